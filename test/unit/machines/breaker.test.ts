import { describe, expect, test } from 'vitest';
import { RetryableError } from '../../../src/errors.js';
import { setup } from 'xstate';
import { circuitBreaker, reply, step, workflow, REPLY_EMITTED } from '../../../machines/index.js';
import { createNet, traceLines } from './harness.js';

const BREAKER = 'support/breaker-crm';

function crmWorkflow(crm: () => Promise<unknown>) {
  return workflow('lookup', {
    steps: [step('history', crm, { breaker: BREAKER, fallback: async () => ({ cached: true }), retry: { maximumAttempts: 1 }, critical: false })],
  });
}

describe('circuit breaker (issue 3)', () => {
  test('opens after 5 failures within 60 s, routes calls to the fallback, half-opens after the cooldown and closes on a good trial', async () => {
    const net = createNet();
    const breaker = net.add(BREAKER, circuitBreaker, { input: { target: 'crm' } });
    const failing = crmWorkflow(async () => { throw new RetryableError('crm 503'); });
    for (let i = 1; i <= 5; i++) {
      net.add(`support/w${i}`, failing, { input: { workflowId: `w${i}` } });
      await net.settle();
      await net.advance(10_000);
    }
    expect(net.path(BREAKER)).toEqual(['closed', 'open']);
    expect(net.path('support/w1')).toEqual(['history.checking', 'history.running', 'completed']);

    // Open: the call never reaches the CRM; the fallback answers.
    let reached = 0;
    const healthy = crmWorkflow(async () => { reached++; return { orders: 3 }; });
    const w6 = net.add('support/w6', healthy, { input: { workflowId: 'w6' } });
    await net.settle();
    expect(reached).toBe(0);
    expect(net.path('support/w6')).toEqual(['history.checking', 'history.fallback', 'completed']);
    expect(w6.getSnapshot().output).toMatchObject({ results: { history: { cached: true } } });
    expect(traceLines(net.trace.filter((e) => e.workflowId === 'w6'))).toEqual([
      'history:pending->checking(asking-breaker)', 'history:checking->fallback(breaker-open)', 'history:fallback->done(succeeded)',
      'workflow:running->completed(completed)',
    ]);

    // Opened at t0+40 s; the 30 s cooldown ends at t0+70 s (the loop already advanced to t0+50 s).
    await net.advance(19_999);
    expect(net.path(BREAKER).at(-1)).toBe('open');
    await net.advance(1);
    expect(net.path(BREAKER).at(-1)).toBe('halfOpen.waiting');

    const w7 = net.add('support/w7', healthy, { input: { workflowId: 'w7' } });
    await net.settle();
    expect(reached).toBe(1);
    expect(net.path('support/w7')).toEqual(['history.checking', 'history.running', 'completed']);
    expect(w7.getSnapshot().output).toMatchObject({ results: { history: { orders: 3 } } });
    expect(net.path(BREAKER)).toEqual(['closed', 'open', 'halfOpen.waiting', 'halfOpen.trial', 'closed']);
    expect(breaker.getSnapshot().context).toMatchObject({ failures: [], timers: {} });
  });

  test('failures outside the window do not count; a failed half-open trial re-opens; one trial at a time', async () => {
    const net = createNet();
    const breaker = net.add('b', circuitBreaker, { input: { failureThreshold: 3, windowMs: 1_000, cooldownMs: 500 } });
    const replies: unknown[] = [];
    breaker.on(REPLY_EMITTED, (e: { payload?: unknown }) => replies.push(e.payload));
    breaker.send({ type: 'breaker.failure' });
    breaker.send({ type: 'breaker.failure' });
    await net.advance(1_001);
    breaker.send({ type: 'breaker.failure' });
    expect(breaker.getSnapshot().value).toBe('closed');
    breaker.send({ type: 'breaker.failure' });
    breaker.send({ type: 'breaker.failure' });
    expect(breaker.getSnapshot().value).toBe('open');
    breaker.send({ type: 'breaker.request' });
    await net.advance(500);
    breaker.send({ type: 'breaker.request' });
    breaker.send({ type: 'breaker.request' });
    breaker.send({ type: 'breaker.failure' });
    expect(replies).toEqual([
      { allowed: false, state: 'open', retryAfterMs: 500, failures: 3 },
      { allowed: true, state: 'halfOpen', failures: 3 },
      { allowed: false, state: 'halfOpen', failures: 3 },
    ]);
    expect(net.path('b')).toEqual(['closed', 'open', 'halfOpen.waiting', 'halfOpen.trial', 'open']);
  });

  test('a trial whose caller never reports counts as failed after trialTimeoutMs', async () => {
    const net = createNet();
    const breaker = net.add('b', circuitBreaker, { input: { failureThreshold: 1, cooldownMs: 100, trialTimeoutMs: 1_000 } });
    breaker.send({ type: 'breaker.failure' });
    await net.advance(100);
    breaker.send({ type: 'breaker.request' });
    await net.advance(999);
    expect(net.path('b').at(-1)).toBe('halfOpen.trial');
    await net.advance(1);
    expect(net.path('b')).toEqual(['closed', 'open', 'halfOpen.waiting', 'halfOpen.trial', 'open']);
    await net.advance(100);
    expect(net.path('b').at(-1)).toBe('halfOpen.waiting');
  });

  test('without a fallback an open circuit fails fast with a retryable CircuitOpen error that waits out the cooldown', async () => {
    const net = createNet();
    net.add(BREAKER, circuitBreaker, { input: { failureThreshold: 1, cooldownMs: 5_000 } });
    let calls = 0;
    const wf = workflow('w', {
      steps: [step('a', async () => { if (++calls === 1) throw new RetryableError('down'); return 'up'; }, { breaker: BREAKER, retry: { maximumAttempts: 3, initialInterval: 100, jitter: 0 } })],
    });
    const actor = net.add('w', wf);
    await net.settle();
    await net.advance(100);
    const open = net.trace.filter((e) => e.outcome === 'retrying')[1];
    expect(open).toMatchObject({ error: { name: 'RetryableError', data: { type: 'CircuitOpen', retryAfterMs: 4_900 } }, delayMs: 4_900 });
    await net.advance(4_900);
    expect(actor.getSnapshot().output).toMatchObject({ results: { a: 'up' } });
    expect(net.path('w')).toEqual([
      'a.checking', 'a.running', 'a.retrying', 'a.checking', 'a.retrying', 'a.checking', 'a.running', 'completed',
    ]);
  });

  test('the fallback may be another agent, asked by address with the step input and idempotency key', async () => {
    const net = createNet();
    net.add(BREAKER, circuitBreaker, { input: { failureThreshold: 1 } });
    net.get(BREAKER).send({ type: 'breaker.failure' });
    const backup = setup({}).createMachine({
      on: { fallback: { actions: reply(({ event }) => ({ from: 'backup', key: (event as unknown as { idempotencyKey: string }).idempotencyKey })) } },
    });
    net.add('support/backup-crm', backup);
    const wf = workflow('w', { steps: [step('history', async () => 'primary', { breaker: BREAKER, fallback: 'support/backup-crm' })] });
    const actor = net.add('w', wf, { input: { workflowId: 'w-3' } });
    await net.settle();
    expect(net.path('w')).toEqual(['history.checking', 'history.fallback', 'completed']);
    expect(actor.getSnapshot().output).toMatchObject({ results: { history: { from: 'backup', key: 'w-3/history' } } });
  });
});
