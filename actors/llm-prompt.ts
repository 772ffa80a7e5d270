/**
 * Troupe's plain-data messages and tool definitions as the AI SDK's `ModelMessage`s and tool set, and the SDK's
 * results back as Troupe's. Tools are declared without `execute`: the SDK returns the calls and stops, and the
 * agent statechart runs them (each with its own retry policy, timeout and journal entry).
 */
import { jsonSchema, tool, type ModelMessage, type ToolSet, type JSONValue } from 'ai';
import type { LlmMessage, LlmStopReason, LlmToolCall, LlmToolChoice, LlmToolDefinition, LlmUsage } from './llm.js';
import { InvalidMessageError } from '../src/errors.js';

export function toModelMessages(messages: readonly LlmMessage[]): ModelMessage[] {
  return messages.map((message, i): ModelMessage => {
    switch (message.role) {
      case 'system':
      case 'user':
        return { role: message.role, content: message.content };
      case 'assistant': {
        if (!message.toolCalls?.length) return { role: 'assistant', content: message.content };
        const text = message.content ? [{ type: 'text' as const, text: message.content }] : [];
        const calls = message.toolCalls.map((call) => ({ type: 'tool-call' as const, toolCallId: call.id, toolName: call.name, input: call.input }));
        return { role: 'assistant', content: [...text, ...calls] };
      }
      case 'tool': {
        const value = message.content;
        const output =
          typeof value === 'string'
            ? { type: message.isError ? ('error-text' as const) : ('text' as const), value }
            : { type: message.isError ? ('error-json' as const) : ('json' as const), value: (value ?? null) as JSONValue };
        return { role: 'tool', content: [{ type: 'tool-result', toolCallId: message.toolCallId, toolName: message.toolName, output }] };
      }
      default:
        throw new InvalidMessageError(`messages[${i}].role`, `unknown role ${JSON.stringify((message as { role?: unknown }).role)}`);
    }
  });
}

export function toToolSet(tools: readonly LlmToolDefinition[] | undefined): ToolSet | undefined {
  if (!tools?.length) return undefined;
  const set: ToolSet = {};
  for (const t of tools) {
    set[t.name] = tool({ description: t.description, inputSchema: jsonSchema(t.inputSchema as Parameters<typeof jsonSchema>[0]) });
  }
  return set;
}

export function toToolChoice(choice: LlmToolChoice | undefined): 'auto' | 'none' | 'required' | { type: 'tool'; toolName: string } | undefined {
  if (choice === undefined || typeof choice === 'string') return choice;
  return { type: 'tool', toolName: choice.tool };
}

/** An SDK tool call (static, dynamic or invalid) as plain data. */
export function fromToolCall(call: { toolCallId: string; toolName: string; input: unknown; invalid?: boolean; error?: unknown }): LlmToolCall {
  const base = { id: call.toolCallId, name: call.toolName, input: call.input ?? null };
  if (!call.invalid) return base;
  const error = call.error instanceof Error ? call.error.message : 'the tool call is not valid';
  return { ...base, error };
}

/** Usage only when the provider reported it: Troupe records real counts, not guesses. */
export function fromUsage(usage: { inputTokens: number | undefined; outputTokens: number | undefined } | undefined): LlmUsage | undefined {
  if (usage?.inputTokens === undefined && usage?.outputTokens === undefined) return undefined;
  return { inputTokens: usage.inputTokens ?? 0, outputTokens: usage.outputTokens ?? 0 };
}

const STOP_REASONS = new Set<string>(['stop', 'length', 'tool-calls', 'content-filter', 'error', 'other']);

export function fromFinishReason(reason: string | undefined): LlmStopReason {
  return reason !== undefined && STOP_REASONS.has(reason) ? (reason as LlmStopReason) : 'other';
}
