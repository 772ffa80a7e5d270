/**
 * Issue 3 through the public API: a workflow run, a shared circuit breaker and the escrow as Troupe actors,
 * routed by the runtime (tells, asks with answer events, trace store), on a manual clock.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { createManualClock, createSystem, RetryableError, type ManualClock, type TroupeSystem } from '../../src/index.js';
import { circuitBreaker, escrow, step, parallel, workflow, type EscrowItem } from '../../machines/index.js';

let system: TroupeSystem | undefined;
afterEach(async () => { await system?.shutdown({ timeoutMs: 1_000 }); system = undefined; });

async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

async function start(): Promise<{ system: TroupeSystem; clock: ManualClock }> {
  const clock = createManualClock(1_000_000);
  system = await createSystem({ name: 'support', clock, logLevel: 'silent' });
  system.register('breaker', circuitBreaker, { version: 1 });
  system.register('escrow', escrow, { version: 1 });
  system.spawn('breaker', { id: 'breaker-crm', input: { target: 'crm', failureThreshold: 2 } });
  system.spawn('escrow', { id: 'escrow' });
  return { system, clock };
}

const input = (id: string) => ({ workflowId: id, address: `support/${id}`, escrow: 'support/escrow' });

describe('workflow + shared breaker + escrow as Troupe actors (issue 3)', () => {
  test('a low-confidence step waits in the escrow, a person approves an edit, the workflow completes; the trace is queryable', async () => {
    const { system } = await start();
    const reply = workflow('customer-reply', {
      steps: [
        step('history', async () => ({ orders: 2 }), { breaker: 'support/breaker-crm' }),
        parallel([step('sentiment', async () => ({ label: 'angry', confidence: 0.6 }), { minConfidence: 0.85, escalation: { tier: 'customer-facing' } }), step('inventory', async () => 'in stock')]),
        step('draft', async ({ context }) => `reply for ${JSON.stringify(context)}`),
      ],
    });
    system.register('customer-reply', reply, { version: 1 });
    const run = system.spawn('customer-reply', { id: 'ticket-42', input: input('ticket-42') });
    const paths: string[] = [];
    let last: { output?: unknown } | undefined;
    run.subscribe((s) => { paths.push(JSON.stringify(s.value)); last = s as { output?: unknown }; });
    await settle();
    expect(run.getSnapshot()?.value).toEqual({ 'parallel-1': { sentiment: 'escalated', inventory: 'done' } });

    const queue = system.lookup('support/escrow');
    const items = await queue.ask<EscrowItem[]>({ type: 'escrow.list' });
    expect(items).toEqual([expect.objectContaining({ id: 'ticket-42/sentiment/1', replyTo: 'support/ticket-42', tier: 'customer-facing', reason: 'low-confidence' })]);
    queue.tell({ type: 'escrow.approve', itemId: 'ticket-42/sentiment/1', output: { label: 'frustrated', confidence: 1 }, by: 'ana' });
    await settle();

    // A finished actor leaves the registry, so its output is read from the last snapshot it published.
    expect(paths.at(-1)).toBe('"completed"');
    expect(last?.output).toMatchObject({ status: 'completed', results: { sentiment: { label: 'frustrated', confidence: 1 }, inventory: 'in stock' } });
    const trace = await system.trace('ticket-42');
    expect(trace.filter((e) => e.kind === 'step' || e.kind === 'escrow').map((e) => `${e.step}:${e.from}->${e.to}(${e.outcome})`)).toEqual(expect.arrayContaining([
      'history:pending->checking(asking-breaker)', 'history:checking->running(permitted)', 'history:running->done(succeeded)',
      'sentiment:running->escalated(escalated)', 'sentiment:submitted->operator(queued)',
      'sentiment:operator->approved(approved)', 'sentiment:escalated->done(approved)', 'draft:running->done(succeeded)',
    ]));
    expect(trace.at(-1)).toMatchObject({ kind: 'workflow', to: 'completed' });
  });

  test('the shared breaker opens on failures from two workflows and the third routes to its fallback', async () => {
    const { system } = await start();
    const lookup = workflow('lookup', {
      steps: [step('history', async () => { throw new RetryableError('crm 503'); }, { breaker: 'support/breaker-crm', fallback: async () => 'cached', retry: { maximumAttempts: 1 } })],
    });
    system.register('lookup', lookup, { version: 1 });
    for (const id of ['w1', 'w2', 'w3']) {
      system.spawn('lookup', { id, input: input(id) });
      await settle();
    }
    const breaker = system.lookup('support/breaker-crm');
    expect(breaker.getSnapshot()?.value).toBe('open');
    const w3 = await system.trace('w3');
    expect(w3.filter((e) => e.kind === 'step').map((e) => `${e.from}->${e.to}(${e.outcome})`)).toEqual([
      'pending->checking(asking-breaker)', 'checking->fallback(breaker-open)', 'fallback->done(succeeded)',
    ]);
  });

  test('an escrow SLA breach on the runtime clock escalates and is recorded in the workflow trace', async () => {
    const { system, clock } = await start();
    const wf = workflow('w', { steps: [step('a', async () => ({ confidence: 0.1 }), { minConfidence: 0.5, escalation: { tier: 'customer-facing' } })] });
    system.register('w', wf, { version: 1 });
    system.spawn('w', { id: 'w9', input: input('w9') });
    await settle();
    clock.advance(5 * 60_000);
    await settle();
    const trace = await system.trace('w9');
    expect(trace.filter((e) => e.outcome === 'sla-breached').map((e) => e.kind)).toEqual(['escrow', 'step']);
  });
});

describe('workflow identity from its actor (issue 8)', () => {
  const ticket = (text: string) => ({ customer: 'ana', text });

  test('two runs spawned without a workflowId get their own idempotency keys and the input as given', async () => {
    const { system } = await start();
    const seen: Array<{ key: string; input: unknown }> = [];
    system.register('reply', workflow('reply', { steps: [step('send', async ({ idempotencyKey, input }) => void seen.push({ key: idempotencyKey, input }))] }), { version: 1 });
    system.spawn('reply', { id: 'ticket-1', input: ticket('first') });
    system.spawn('reply', { id: 'ticket-2', input: ticket('second') });
    await settle();
    expect(seen.sort((a, b) => a.key.localeCompare(b.key))).toEqual([
      { key: 'ticket-1/send', input: ticket('first') },
      { key: 'ticket-2/send', input: ticket('second') },
    ]);
    expect((await system.trace('ticket-1')).at(-1)).toMatchObject({ kind: 'workflow', to: 'completed' });
  });

  test('a compensation runs under its own key, so a service that deduplicates by key still performs the undo', async () => {
    const { system } = await start();
    // A payment service that ignores a key it has seen (what idempotency keys are for).
    const seenKeys = new Set<string>();
    const ledger: Array<{ key: string; amount: number }> = [];
    const pay = (key: string, amount: number): void => {
      if (seenKeys.has(key)) return;
      seenKeys.add(key);
      ledger.push({ key, amount });
    };
    const order = workflow('order', {
      steps: [
        step('charge', async ({ idempotencyKey }) => pay(idempotencyKey, 30), { compensate: async ({ idempotencyKey }) => pay(idempotencyKey, -30) }),
        step('ship', async () => { throw new RetryableError('carrier down'); }, { critical: true, retry: { maximumAttempts: 1 } }),
      ],
    });
    system.register('order', order, { version: 1 });
    const run = system.spawn('order', { id: 'order-5', input: { sku: 'x' } });
    let last: { output?: unknown } | undefined;
    run.subscribe((s) => { last = s as { output?: unknown }; });
    await settle();
    expect(ledger).toEqual([{ key: 'order-5/charge', amount: 30 }, { key: 'order-5/charge/compensate', amount: -30 }]);
    expect(last?.output).toMatchObject({ status: 'aborted', compensated: ['charge'] });
  });

  test('an escalation spawned with only an id goes to the system\'s escrow (issue 13) and is answered at the actor address', async () => {
    const { system } = await start();
    // No escrow named anywhere: the default is `<system>/escrow`, where start() spawned it.
    const wf = workflow('review', {
      steps: [step('draft', async () => ({ text: 'hi', confidence: 0.2 }), { minConfidence: 0.9 }), step('send', async ({ context }) => context)],
    });
    system.register('review', wf, { version: 1 });
    const run = system.spawn('review', { id: 'ticket-9', input: ticket('refund?') });
    let last: { output?: unknown } | undefined;
    run.subscribe((s) => { last = s as { output?: unknown }; });
    await settle();
    const queue = system.lookup('support/escrow');
    const items = await queue.ask<EscrowItem[]>({ type: 'escrow.list' });
    expect(items).toEqual([expect.objectContaining({ id: 'ticket-9/draft/1', workflowId: 'ticket-9', replyTo: 'support/ticket-9' })]);
    queue.tell({ type: 'escrow.approve', itemId: 'ticket-9/draft/1', output: { text: 'hello', confidence: 1 }, by: 'ana' });
    await settle();
    expect(last?.output).toMatchObject({ status: 'completed', results: { draft: { text: 'hello', confidence: 1 }, send: { draft: { text: 'hello', confidence: 1 } } } });
  });
});
