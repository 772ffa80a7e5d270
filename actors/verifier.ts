/**
 * Verifier helpers (issue 3): functions that check a step's output before the next step runs. Each returns a
 * `VerifierFn` for a step's `verify` option; FAIL retries or escalates by the step's policy.
 *
 * @example
 * step('draft', draftReply, { verify: allOf(forbids(['guarantee', 'refund within']), maxLength(2_000)) })
 */
import type { VerifierFn, VerifyArgs, VerifyResult } from '../machines/index.js';
import type { LlmClient } from './llm.js';

/** A check's verdict: `true`, or `false`/a reason string for FAIL, or a full `{ ok, reason }`. */
export type Check = (output: unknown, args: VerifyArgs) => boolean | string | VerifyResult | Promise<boolean | string | VerifyResult>;

/** Turns a check into a verifier; a string result is a FAIL with that reason. */
export function fnVerifier(check: Check): VerifierFn {
  return async (args) => {
    const result = await check(args.output, args);
    if (typeof result === 'string') return { ok: false, reason: result };
    if (typeof result === 'boolean') return result ? { ok: true } : { ok: false, reason: 'check failed' };
    return result;
  };
}

/** PASS only when every verifier passes; the first FAIL's reason is reported. */
export function allOf(...verifiers: VerifierFn[]): VerifierFn {
  return async (args) => {
    for (const verify of verifiers) {
      const result = await verify(args);
      if (result === false || (typeof result === 'object' && !result.ok)) return typeof result === 'object' ? result : { ok: false, reason: 'check failed' };
    }
    return { ok: true };
  };
}

function textOf(output: unknown): string {
  if (typeof output === 'string') return output;
  const text = (output as { text?: unknown } | null)?.text;
  return typeof text === 'string' ? text : JSON.stringify(output ?? null);
}

/** FAIL when the output's text (a string, or its `text` field) contains one of `words` (case-insensitive). */
export function forbids(words: readonly string[]): VerifierFn {
  return fnVerifier((output) => {
    const text = textOf(output).toLowerCase();
    const hit = words.find((w) => text.includes(w.toLowerCase()));
    return hit === undefined ? true : `contains forbidden phrase ${JSON.stringify(hit)}`;
  });
}

/** FAIL when the output's text does not match `pattern`. */
export function matches(pattern: RegExp, reason = `does not match ${pattern}`): VerifierFn {
  return fnVerifier((output) => (pattern.test(textOf(output)) ? true : reason));
}

/** FAIL when the output's text is longer than `max` characters. */
export function maxLength(max: number): VerifierFn {
  return fnVerifier((output) => (textOf(output).length <= max ? true : `longer than ${max} characters`));
}

/**
 * An LLM as the judge: it is given the rubric and the output and must answer `PASS` or `FAIL: <reason>`.
 * Anything else is a FAIL (a judge that cannot decide is no pass).
 */
export function llmVerifier(client: LlmClient, rubric: string, options: { model?: string; maxTokens?: number } = {}): VerifierFn {
  return async ({ output, signal }) => {
    const response = await client.complete({
      model: options.model,
      maxTokens: options.maxTokens ?? 200,
      temperature: 0,
      signal,
      messages: [
        { role: 'system', content: `You check outputs against this rubric:\n${rubric}\nAnswer exactly "PASS" or "FAIL: <reason>".` },
        { role: 'user', content: textOf(output) },
      ],
    });
    const answer = response.text.trim();
    if (/^PASS\b/i.test(answer)) return { ok: true };
    return { ok: false, reason: answer.replace(/^FAIL:?\s*/i, '') || 'judge gave no verdict' };
  };
}
