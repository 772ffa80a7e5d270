import { describe, expect, test } from 'vitest';
import { allOf, estimateTokens, fnVerifier, forbids, llmSummarizer, llmVerifier, matches, maxLength, truncatingSummarizer, type LlmClient, type LlmRequest } from '../../../actors/index.js';
import { escrow, step, workflow, type VerifyArgs } from '../../../machines/index.js';
import { createNet } from './harness.js';

const args = (output: unknown): VerifyArgs => ({
  output, input: undefined, context: undefined, idempotencyKey: 'w/s', attempt: 1, workflowId: 'w', stepId: 's', signal: new AbortController().signal, note: () => {},
});

function fakeLlm(answer: string): LlmClient & { requests: LlmRequest[] } {
  const requests: LlmRequest[] = [];
  return { requests, complete: async (request) => { requests.push(request); return { text: answer }; } };
}

describe('actors: verifiers, summarizers, tokenizer (issue 3)', () => {
  test('function verifiers: a string result is a FAIL with that reason; allOf reports the first FAIL', async () => {
    expect(await fnVerifier((o) => o === 1)(args(1))).toEqual({ ok: true });
    expect(await fnVerifier(() => 'too vague')(args(1))).toEqual({ ok: false, reason: 'too vague' });
    const brand = allOf(forbids(['guarantee']), matches(/^Dear /), maxLength(20));
    expect(await brand(args('Dear Ms. Lee'))).toEqual({ ok: true });
    expect(await brand(args({ text: 'Dear X, we GUARANTEE it' }))).toEqual({ ok: false, reason: 'contains forbidden phrase "guarantee"' });
    expect(await brand(args('Hello'))).toMatchObject({ ok: false });
    expect(await brand(args('Dear ' + 'x'.repeat(30)))).toEqual({ ok: false, reason: 'longer than 20 characters' });
  });

  test('an LLM judge: PASS passes, FAIL carries its reason, and the step signal is passed through', async () => {
    const pass = fakeLlm('PASS');
    const a = args('hi');
    expect(await llmVerifier(pass, 'be polite')(a)).toEqual({ ok: true });
    expect(pass.requests[0]?.signal).toBe(a.signal);
    expect(await llmVerifier(fakeLlm('FAIL: rude tone'), 'be polite')(a)).toEqual({ ok: false, reason: 'rude tone' });
    expect(await llmVerifier(fakeLlm('maybe?'), 'be polite')(a)).toEqual({ ok: false, reason: 'maybe?' });
  });

  test('the truncating summarizer fits the budget and marks the cut; the LLM summarizer asks within the budget', async () => {
    const signal = new AbortController().signal;
    const text = 'a'.repeat(10_000);
    const summary = await truncatingSummarizer()({ text, data: text, budget: 100, tokens: estimateTokens(text), workflowId: 'w', stepId: 's', signal });
    expect(estimateTokens(summary as string)).toBeLessThanOrEqual(100);
    expect(summary).toContain('characters omitted');
    const llm = fakeLlm('short');
    expect(await llmSummarizer(llm)({ text, data: text, budget: 400, tokens: 2_500, workflowId: 'w', stepId: 's', signal })).toBe('short');
    expect(llm.requests[0]?.maxTokens).toBe(300);
  });

  test('verifier helpers plug into a workflow step', async () => {
    const wf = workflow('w', { steps: [step('draft', async () => 'We guarantee delivery', { verify: forbids(['guarantee']), onVerifyFail: 'escalate' })] });
    const net = createNet();
    net.add('escrow', escrow);
    net.add('w', wf);
    await net.settle();
    expect(net.path('w')).toEqual(['draft.running', 'draft.verifying', 'draft.escalated']);
    expect(net.trace.filter((e) => e.kind === 'step').at(-1)?.error).toMatchObject({ message: 'verification failed: contains forbidden phrase "guarantee"' });
  });
});
