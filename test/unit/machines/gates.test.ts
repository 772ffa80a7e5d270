import { describe, expect, test } from 'vitest';
import { setup } from 'xstate';
import { escrow, reply, step, workflow, type EscrowItem } from '../../../machines/index.js';
import { createNet, traceLines } from './harness.js';

describe('verifier gate and confidence routing (issue 3)', () => {
  test('verifier FAIL retries the step, and FAIL again with attempts exhausted escalates', async () => {
    const verdicts: Array<{ attempt: number; output: unknown }> = [];
    const wf = workflow('w', {
      escrow: 'escrow',
      steps: [
        step('draft', async ({ attempt }) => `draft v${attempt}`, {
          verify: async ({ output, attempt }) => { verdicts.push({ attempt, output }); return { ok: false, reason: 'mentions a competitor' }; },
          retry: { maximumAttempts: 2, initialInterval: 200, jitter: 0, onExhausted: 'escalate' },
        }),
        step('send', async () => 'sent'),
      ],
    });
    const net = createNet();
    net.add('escrow', escrow); // where a workflow without a system escalates
    net.add('w', wf);
    await net.settle();
    await net.advance(200);
    expect(verdicts).toEqual([{ attempt: 1, output: 'draft v1' }, { attempt: 2, output: 'draft v2' }]);
    expect(net.path('w')).toEqual([
      'draft.running', 'draft.verifying', 'draft.retrying', 'draft.running', 'draft.verifying', 'draft.escalated',
    ]);
    expect(traceLines(net.trace)).toEqual([
      'draft:pending->running(started)', 'draft:running->verifying(produced)', 'draft:verifying->retrying(retrying)',
      'draft:retrying->running(started)', 'draft:running->verifying(produced)', 'draft:verifying->escalated(escalated)',
    ]);
    expect(net.trace.filter((e) => e.kind === 'step').at(-1)?.error).toMatchObject({ message: 'verification failed: mentions a competitor', data: { type: 'VerificationFailed' } });
    expect(Object.values(escrowItems(net))).toEqual([expect.objectContaining({ reason: 'retries-exhausted', output: 'draft v2' })]);
  });

  test('a PASS lets the next step run; onVerifyFail escalate skips the retry', async () => {
    const wf = workflow('w', {
      steps: [
        step('a', async () => 'good', { verify: ({ output }) => output === 'good' }),
        step('b', async () => 'bad', { verify: () => ({ ok: false, reason: 'no' }), onVerifyFail: 'escalate' }),
      ],
    });
    const net = createNet();
    net.add('escrow', escrow); // where a workflow without a system escalates
    net.add('w', wf);
    await net.settle();
    expect(net.path('w')).toEqual(['a.running', 'a.verifying', 'b.running', 'b.verifying', 'b.escalated']);
  });

  test('a verifier agent is asked by address and its answer gates the step', async () => {
    const verifier = setup({}).createMachine({ on: { verify: { actions: reply(({ event }) => ({ ok: (event as unknown as { output: string }).output.includes('Dear') })) } } });
    const wf = workflow('w', { steps: [step('a', async () => 'Dear Ms. Lee', { verify: 'support/brand-verifier' })] });
    const net = createNet();
    net.add('support/brand-verifier', verifier);
    const actor = net.add('w', wf);
    await net.settle();
    expect(net.path('w')).toEqual(['a.running', 'a.verifying', 'completed']);
    expect(actor.getSnapshot().output).toMatchObject({ results: { a: 'Dear Ms. Lee' } });
  });

  test('an escalation that reaches no escrow fails the step (issue 13): critical aborts with the cause, critical: false skips with it', async () => {
    const low = async () => ({ label: 'angry', confidence: 0.2 });
    const critical = workflow('w', { escrow: 'support/nobody', steps: [step('sentiment', low, { minConfidence: 0.85 }), step('reply', async () => 'ok')] });
    const net = createNet();
    const run = net.add('support/w1', critical, { input: { workflowId: 'w1', address: 'support/w1' } });
    await net.settle();
    expect(net.path('support/w1')).toEqual(['sentiment.running', 'sentiment.escalated', 'aborted']);
    expect(run.getSnapshot().output).toMatchObject({ status: 'aborted', cause: { stepId: 'sentiment', error: { name: 'DeadLetterError', message: 'no actor at support/nobody' } } });

    const optional = workflow('w', { escrow: 'support/nobody', steps: [step('sentiment', low, { minConfidence: 0.85, critical: false }), step('reply', async () => 'ok')] });
    const run2 = net.add('support/w2', optional, { input: { workflowId: 'w2', address: 'support/w2' } });
    await net.settle();
    expect(run2.getSnapshot().output).toMatchObject({ status: 'completed', skipped: [{ stepId: 'sentiment', error: { name: 'DeadLetterError' } }], results: { reply: 'ok' } });
    expect(traceLines(net.trace.filter((e) => e.workflowId === 'w2'))).toContain('sentiment:escalated->skipped(escrow-unreachable)');
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
    net.add('escrow', escrow); // where a workflow without a system escalates
    net.add('w', wf);
    await net.settle();
    expect(next).toBe(0);
    expect(net.path('w')).toEqual(['sentiment.running', 'sentiment.escalated']);
    expect(net.trace.filter((e) => e.kind === 'step').at(-1)).toMatchObject({
      kind: 'step', from: 'running', to: 'escalated', outcome: 'escalated', detail: { reason: 'low-confidence', confidence: 0.6, minConfidence: 0.85, tier: 'internal' },
    });
  });
});

/** The items waiting in the net's escrow (the real escrow machine at `escrow`). */
function escrowItems(net: ReturnType<typeof createNet>): Record<string, EscrowItem> {
  return (net.get('escrow').getSnapshot() as unknown as { context: { items: Record<string, EscrowItem> } }).context.items;
}
