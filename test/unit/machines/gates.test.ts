import { describe, expect, test } from 'vitest';
import { setup } from 'xstate';
import { reply, step, workflow } from '../../../machines/index.js';
import { createNet, traceLines } from './harness.js';

describe('verifier gate and confidence routing (issue 3)', () => {
  test('verifier FAIL retries the step, and FAIL again with attempts exhausted escalates', async () => {
    const verdicts: Array<{ attempt: number; output: unknown }> = [];
    const wf = workflow('w', {
      escrow: 'esc',
      steps: [
        step('draft', async ({ attempt }) => `draft v${attempt}`, {
          verify: async ({ output, attempt }) => { verdicts.push({ attempt, output }); return { ok: false, reason: 'mentions a competitor' }; },
          retry: { maximumAttempts: 2, initialInterval: 200, jitter: 0, onExhausted: 'escalate' },
        }),
        step('send', async () => 'sent'),
      ],
    });
    const net = createNet();
    net.add('w', wf);
    await net.settle();
    await net.advance(200);
    expect(verdicts).toEqual([{ attempt: 1, output: 'draft v1' }, { attempt: 2, output: 'draft v2' }]);
    expect(net.path('w')).toEqual([
      'active.draft.running', 'active.draft.verifying', 'active.draft.retrying', 'active.draft.running', 'active.draft.verifying', 'active.draft.escalated',
    ]);
    expect(traceLines(net.trace)).toEqual([
      'draft:pending->running(started)', 'draft:running->verifying(produced)', 'draft:verifying->retrying(retrying)',
      'draft:retrying->running(started)', 'draft:running->verifying(produced)', 'draft:verifying->escalated(escalated)',
    ]);
    expect(net.trace.at(-1)?.error).toMatchObject({ message: 'verification failed: mentions a competitor', data: { type: 'VerificationFailed' } });
    expect(net.outbox[0]?.event).toMatchObject({ type: 'escrow.submit', item: { reason: 'retries-exhausted', output: 'draft v2' } });
  });

  test('a PASS lets the next step run; onVerifyFail escalate skips the retry', async () => {
    const wf = workflow('w', {
      steps: [
        step('a', async () => 'good', { verify: ({ output }) => output === 'good' }),
        step('b', async () => 'bad', { verify: () => ({ ok: false, reason: 'no' }), onVerifyFail: 'escalate' }),
      ],
    });
    const net = createNet();
    net.add('w', wf);
    await net.settle();
    expect(net.path('w')).toEqual(['active.a.running', 'active.a.verifying', 'active.b.running', 'active.b.verifying', 'active.b.escalated']);
  });

  test('a verifier agent is asked by address and its answer gates the step', async () => {
    const verifier = setup({}).createMachine({ on: { verify: { actions: reply(({ event }) => ({ ok: (event as unknown as { output: string }).output.includes('Dear') })) } } });
    const wf = workflow('w', { steps: [step('a', async () => 'Dear Ms. Lee', { verify: 'support/brand-verifier' })] });
    const net = createNet();
    net.add('support/brand-verifier', verifier);
    const actor = net.add('w', wf);
    await net.settle();
    expect(net.path('w')).toEqual(['active.a.running', 'active.a.verifying', 'completed']);
    expect(actor.getSnapshot().output).toMatchObject({ results: { a: 'Dear Ms. Lee' } });
  });

  test('confidence 0.6 with a threshold of 0.85 escalates instead of continuing', async () => {
    let next = 0;
    const wf = workflow('w', {
      steps: [
        step('sentiment', async () => ({ label: 'angry', confidence: 0.6 }), { minConfidence: 0.85 }),
        step('reply', async () => { next++; return 'ok'; }),
      ],
    });
    const net = createNet();
    net.add('w', wf);
    await net.settle();
    expect(next).toBe(0);
    expect(net.path('w')).toEqual(['active.sentiment.running', 'active.sentiment.escalated']);
    expect(net.trace.at(-1)).toMatchObject({
      kind: 'step', from: 'running', to: 'escalated', outcome: 'escalated', detail: { reason: 'low-confidence', confidence: 0.6, minConfidence: 0.85, tier: 'internal' },
    });
  });
});
