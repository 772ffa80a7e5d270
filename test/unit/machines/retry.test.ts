import { describe, expect, test } from 'vitest';
import { NonRetryableError, RetryableError } from '../../../src/errors.js';
import { escrow, step, workflow, type EscrowItem } from '../../../machines/index.js';
import { createNet, traceLines } from './harness.js';

describe('step retries (issue 3)', () => {
  test('a network error is retried with growing backoff, then the step succeeds', async () => {
    let calls = 0;
    const attempts: Array<{ attempt: number; key: string }> = [];
    const wf = workflow('fetch', {
      steps: [
        step('history', async ({ attempt, idempotencyKey }) => {
          attempts.push({ attempt, key: idempotencyKey });
          if (++calls < 4) throw new RetryableError('ECONNRESET');
          return { orders: 3 };
        }, { retry: { maximumAttempts: 5, initialInterval: 1_000, backoffCoefficient: 2, jitter: 0 } }),
      ],
    });
    const net = createNet();
    const actor = net.add('support/ticket-1', wf, { input: { workflowId: 'ticket-1' } });
    await net.settle();
    expect(actor.getSnapshot().value).toEqual({ history: 'retrying' });
    await net.advance(999);
    expect(calls).toBe(1);
    await net.advance(1);
    expect(calls).toBe(2);
    await net.advance(2_000);
    expect(calls).toBe(3);
    await net.advance(4_000);
    expect(calls).toBe(4);
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().output).toMatchObject({ status: 'completed', results: { history: { orders: 3 } } });
    expect(attempts).toEqual([1, 2, 3, 4].map((attempt) => ({ attempt, key: 'ticket-1/history' })));
    expect(net.path('support/ticket-1')).toEqual([
      'history.running', 'history.retrying', 'history.running', 'history.retrying',
      'history.running', 'history.retrying', 'history.running', 'completed',
    ]);
    const retries = net.trace.filter((e) => e.outcome === 'retrying');
    expect(retries.map((e) => e.delayMs)).toEqual([1_000, 2_000, 4_000]);
    expect(traceLines(net.trace)).toEqual([
      'history:pending->running(started)',
      'history:running->retrying(retrying)', 'history:retrying->running(started)',
      'history:running->retrying(retrying)', 'history:retrying->running(started)',
      'history:running->retrying(retrying)', 'history:retrying->running(started)',
      'history:running->done(succeeded)',
      'workflow:running->completed(completed)',
    ]);
  });
});

describe('step failures that are not retried (issue 3)', () => {
  test('a NonRetryableError fails the step at once: a non-critical step is skipped and the workflow goes on', async () => {
    let calls = 0;
    const wf = workflow('validate', {
      steps: [
        step('parse', async () => { calls++; throw new NonRetryableError('bad input', { type: 'BadInput' }); }, { retry: { maximumAttempts: 5 }, critical: false }),
        step('reply', async () => 'ok'),
      ],
    });
    const net = createNet();
    const actor = net.add('support/t', wf, { input: { workflowId: 't' } });
    await net.settle();
    expect(calls).toBe(1);
    expect(net.path('support/t')).toEqual(['parse.running', 'reply.running', 'completed']);
    expect(traceLines(net.trace)).toEqual([
      'parse:pending->running(started)', 'parse:running->skipped(failed-permanently)',
      'reply:pending->running(started)', 'reply:running->done(succeeded)', 'workflow:running->completed(completed)',
    ]);
    expect(net.trace.find((e) => e.to === 'skipped')?.error).toMatchObject({ name: 'NonRetryableError', message: 'bad input' });
    expect(actor.getSnapshot().output).toMatchObject({ status: 'completed', skipped: [{ stepId: 'parse', error: { name: 'NonRetryableError', message: 'bad input' } }], results: { reply: 'ok' } });
  });

  test('an error type listed in nonRetryableErrorTypes is not retried', async () => {
    let calls = 0;
    const wf = workflow('w', {
      steps: [step('a', async () => { calls++; throw new RetryableError('quota', { type: 'QuotaExceeded' }); }, { retry: { nonRetryableErrorTypes: ['QuotaExceeded'] }, critical: false })],
    });
    const net = createNet();
    net.add('w', wf);
    await net.settle();
    expect(calls).toBe(1);
    expect(net.path('w')).toEqual(['a.running', 'completed']);
  });

  test('exhausted retries escalate to the escrow when onExhausted is escalate', async () => {
    const wf = workflow('w', {
      escrow: 'support/escrow',
      steps: [step('a', async () => { throw new RetryableError('503'); }, { retry: { maximumAttempts: 2, initialInterval: 100, jitter: 0, onExhausted: 'escalate' }, escalation: { tier: 'customer-facing' } })],
    });
    const net = createNet();
    net.add('support/escrow', escrow);
    net.add('support/w-1', wf, { input: { workflowId: 'w-1', address: 'support/w-1' } });
    await net.settle();
    await net.advance(100);
    expect(net.path('support/w-1')).toEqual(['a.running', 'a.retrying', 'a.running', 'a.escalated']);
    expect(traceLines(net.trace)).toEqual([
      'a:pending->running(started)', 'a:running->retrying(retrying)', 'a:retrying->running(started)', 'a:running->escalated(escalated)',
    ]);
    const items = (net.get('support/escrow').getSnapshot() as unknown as { context: { items: Record<string, EscrowItem> } }).context.items;
    expect(Object.values(items)).toEqual([expect.objectContaining({ id: 'w-1/a/2', workflowId: 'w-1', stepId: 'a', replyTo: 'support/w-1', tier: 'customer-facing', reason: 'retries-exhausted' })]);
  });

  test('a RetryableError retryAfterMs hint is honoured instead of the computed backoff', async () => {
    let calls = 0;
    const wf = workflow('w', {
      steps: [step('a', async () => { if (++calls === 1) throw new RetryableError('429', { retryAfterMs: 7_000 }); return 'ok'; }, { retry: { initialInterval: 10, jitter: 0 } })],
    });
    const net = createNet();
    net.add('w', wf);
    await net.settle();
    await net.advance(6_999);
    expect(calls).toBe(1);
    await net.advance(1);
    expect(calls).toBe(2);
    expect(net.trace.find((e) => e.outcome === 'retrying')?.delayMs).toBe(7_000);
  });

  test('startToCloseMs aborts the running attempt through its signal and retries it', async () => {
    const signals: AbortSignal[] = [];
    const wf = workflow('w', {
      steps: [step('slow', ({ signal, attempt }) => {
        signals.push(signal);
        return attempt === 1 ? new Promise(() => {}) : 'fast';
      }, { startToCloseMs: 5_000, retry: { initialInterval: 100, jitter: 0 } })],
    });
    const net = createNet();
    const actor = net.add('w', wf);
    await net.settle();
    await net.advance(5_000);
    expect(signals[0]?.aborted).toBe(true);
    expect(net.trace.find((e) => e.outcome === 'retrying')?.error).toMatchObject({ name: 'TimeoutError' });
    await net.advance(100);
    expect(actor.getSnapshot().output).toMatchObject({ status: 'completed', results: { slow: 'fast' } });
    expect(net.path('w')).toEqual(['slow.running', 'slow.retrying', 'slow.running', 'completed']);
  });

  test('scheduleToCloseMs bounds the step overall, retries included', async () => {
    const wf = workflow('w', {
      steps: [step('a', async () => { throw new RetryableError('down'); }, { scheduleToCloseMs: 2_500, retry: { maximumAttempts: 10, initialInterval: 1_000, jitter: 0 }, critical: false })],
    });
    const net = createNet();
    const actor = net.add('w', wf);
    await net.settle();
    await net.advance(1_000);
    // The second retry would be due at 3,000 ms, past the 2,500 ms bound: the step gives up without waiting.
    expect(net.path('w')).toEqual(['a.running', 'a.retrying', 'a.running', 'completed']);
    expect(actor.getSnapshot().output).toMatchObject({ skipped: [{ stepId: 'a' }] });
    expect(traceLines(net.trace).at(-2)).toBe('a:running->skipped(exhausted)');
  });

  test('jitter comes from the seeded PRNG in the snapshot: the same seed gives the same delays', async () => {
    const delays = async (seed: number) => {
      const wf = workflow('w', { steps: [step('a', async () => { throw new RetryableError('x'); }, { retry: { maximumAttempts: 3, initialInterval: 1_000, jitter: 0.5 } })] });
      const net = createNet();
      net.add('w', wf, { input: { seed } });
      await net.settle();
      await net.advance(10_000);
      await net.advance(10_000);
      return net.trace.filter((e) => e.outcome === 'retrying').map((e) => e.delayMs);
    };
    const first = await delays(42);
    expect(first).toHaveLength(2);
    expect(await delays(42)).toEqual(first);
    expect(first[0]).toBeGreaterThanOrEqual(500);
    expect(first[0]).toBeLessThanOrEqual(1_500);
  });
});
