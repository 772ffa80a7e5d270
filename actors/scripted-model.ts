/**
 * A deterministic local model for offline use (demos, tests, a laptop on a plane): an AI SDK `LanguageModelV3`
 * whose answers are scripted, keyed by the prompt's last message. It is labelled wherever its output goes: the
 * provider is `troupe.scripted`, the model id starts with `scripted:`, text answers start with `[scripted] `
 * (unless `labelText: false`, for answers that must parse as JSON), its provider metadata says
 * `{ troupe: { scripted: true } }` (the adapter turns it into `LlmResponse.scripted`), and its token counts are
 * estimates (about four characters a token), said so in the metadata too.
 */
import type { LanguageModelV3, LanguageModelV3CallOptions, LanguageModelV3Content, LanguageModelV3StreamPart, LanguageModelV3Usage } from '@ai-sdk/provider';
import { NonRetryableError } from '../src/errors.js';

export const SCRIPTED_PROVIDER = 'troupe.scripted';
export const SCRIPTED_TEXT_LABEL = '[scripted] ';

export type ScriptedAnswer = string | { readonly text?: string; readonly toolCalls?: readonly { readonly name: string; readonly input: unknown }[] };

/** What a rule is matched against: the prompt's last message, as text. */
export interface ScriptedTurn {
  /** `user` text, or for a tool result `tool <name>: <result as JSON or text>`. */
  readonly key: string;
  readonly role: 'system' | 'user' | 'assistant' | 'tool';
  /** Completed assistant turns so far (0 on the first call of a conversation). */
  readonly turn: number;
}

export interface ScriptRule {
  /** A substring of the key, a pattern, or a predicate. */
  readonly when: string | RegExp | ((turn: ScriptedTurn) => boolean);
  readonly answer: ScriptedAnswer | ((turn: ScriptedTurn) => ScriptedAnswer);
}

export interface ScriptedModelOptions {
  /** Shown in the model id: `scripted:<name>`. */
  readonly name?: string;
  /** Rules in order, the first match answers; a record maps key substrings to answers, in insertion order. */
  readonly script: readonly ScriptRule[] | Readonly<Record<string, ScriptedAnswer>>;
  /** The answer when no rule matches; without one, an unmatched prompt fails with a NonRetryableError naming it. */
  readonly fallback?: ScriptedAnswer;
  /** Prefix text answers with `[scripted] ` (default true). */
  readonly labelText?: boolean;
}

export function scriptedModel(options: ScriptedModelOptions): LanguageModelV3 {
  const rules: readonly ScriptRule[] = Array.isArray(options.script)
    ? options.script
    : Object.entries(options.script as Record<string, ScriptedAnswer>).map(([when, answer]) => ({ when, answer }));
  const modelId = `scripted:${options.name ?? 'local'}`;
  const label = options.labelText ?? true;

  const answer = (call: LanguageModelV3CallOptions) => {
    if (call.abortSignal?.aborted) throw call.abortSignal.reason;
    const turn = turnOf(call);
    const rule = rules.find((r) => matches(r.when, turn));
    const chosen = rule ? (typeof rule.answer === 'function' ? rule.answer(turn) : rule.answer) : options.fallback;
    if (chosen === undefined) {
      throw new NonRetryableError(`scripted model ${modelId} has no answer for ${turn.role} message ${JSON.stringify(turn.key.slice(0, 200))}`, { type: 'LlmNoScriptedAnswer' });
    }
    const { text = '', toolCalls = [] } = typeof chosen === 'string' ? { text: chosen } : chosen;
    const content: LanguageModelV3Content[] = [];
    if (text) content.push({ type: 'text', text: label ? SCRIPTED_TEXT_LABEL + text : text });
    toolCalls.forEach((c, i) => content.push({ type: 'tool-call', toolCallId: `scripted-${turn.turn}-${i}`, toolName: c.name, input: JSON.stringify(c.input ?? {}) }));
    const outputChars = content.reduce((n, c) => n + (c.type === 'text' ? c.text.length : c.type === 'tool-call' ? c.input.length : 0), 0);
    return {
      content,
      finishReason: { unified: toolCalls.length > 0 ? ('tool-calls' as const) : ('stop' as const), raw: undefined },
      usage: estimatedUsage(JSON.stringify(call.prompt).length, outputChars),
      providerMetadata: { troupe: { scripted: true, usage: 'estimated' } },
      response: { id: `${modelId}/${turn.turn}`, modelId, timestamp: new Date(0) },
      warnings: [],
    };
  };

  return {
    specificationVersion: 'v3',
    provider: SCRIPTED_PROVIDER,
    modelId,
    supportedUrls: {},
    async doGenerate(call) {
      return answer(call);
    },
    async doStream(call) {
      const result = answer(call);
      const parts: LanguageModelV3StreamPart[] = [{ type: 'stream-start', warnings: [] }, { type: 'response-metadata', ...result.response }];
      for (const c of result.content) {
        if (c.type === 'text') {
          parts.push({ type: 'text-start', id: 'text' });
          for (const word of c.text.match(/\S+\s*|\s+/g) ?? []) parts.push({ type: 'text-delta', id: 'text', delta: word });
          parts.push({ type: 'text-end', id: 'text' });
        } else if (c.type === 'tool-call') {
          parts.push({ type: 'tool-input-start', id: c.toolCallId, toolName: c.toolName });
          parts.push({ type: 'tool-input-delta', id: c.toolCallId, delta: c.input });
          parts.push({ type: 'tool-input-end', id: c.toolCallId });
          parts.push(c);
        }
      }
      parts.push({ type: 'finish', usage: result.usage, finishReason: result.finishReason, providerMetadata: result.providerMetadata });
      return { stream: new ReadableStream({ start(controller) { for (const p of parts) controller.enqueue(p); controller.close(); } }) };
    },
  };
}

function matches(when: ScriptRule['when'], turn: ScriptedTurn): boolean {
  if (typeof when === 'string') return turn.key.includes(when);
  if (when instanceof RegExp) return when.test(turn.key);
  return when(turn);
}

function turnOf(call: LanguageModelV3CallOptions): ScriptedTurn {
  const last = call.prompt[call.prompt.length - 1];
  const turn = call.prompt.filter((m) => m.role === 'assistant').length;
  if (last === undefined) return { key: '', role: 'user', turn };
  if (last.role === 'system') return { key: last.content, role: 'system', turn };
  if (last.role === 'tool') {
    const key = last.content
      .map((part) => (part.type === 'tool-result' ? `tool ${part.toolName}: ${outputText(part.output)}` : ''))
      .filter(Boolean)
      .join('\n');
    return { key, role: 'tool', turn };
  }
  const key = last.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
  return { key, role: last.role, turn };
}

function outputText(output: { type: string; value?: unknown }): string {
  return typeof output.value === 'string' ? output.value : JSON.stringify(output.value ?? null);
}

function estimatedUsage(inputChars: number, outputChars: number): LanguageModelV3Usage {
  const input = Math.ceil(inputChars / 4);
  const output = Math.ceil(outputChars / 4);
  return {
    inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: output, text: output, reasoning: undefined },
  };
}
