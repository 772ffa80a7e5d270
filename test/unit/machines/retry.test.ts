import { describe, expect, test } from 'vitest';
import { NonRetryableError, RetryableError } from '../../../src/errors.js';
import { step, workflow } from '../../../machines/index.js';
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
    expect(actor.getSnapshot().value).toEqual({ active: { history: 'retrying' } });
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
      'active.history.running', 'active.history.retrying', 'active.history.running', 'active.history.retrying',
      'active.history.running', 'active.history.retrying', 'active.history.running', 'completed',
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
