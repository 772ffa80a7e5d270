import { describe, expect, test } from 'vitest';
import { assign, createActor, setup } from 'xstate';
import { InvalidConfigError, RetryableError } from '../../../src/errors.js';
import { pool, step, workflow, type PoolContext, type PoolNotice } from '../../../machines/index.js';
import { createNet, traceLines } from './harness.js';

/** A requester that records every notice the pool tells it. */
const requester = setup({ types: { context: {} as { got: PoolNotice[] }, events: {} as PoolNotice } }).createMachine({
  context: { got: [] },
  on: { '*': { actions: assign({ got: ({ context, event }) => [...context.got, event] }) } },
});

function setupPool(input: { capacity: number; agingMs?: number; leaseMs?: number; perKey?: number; onKeyBusy?: 'queue' | 'skip' | 'replace' }) {
  const net = createNet();
  const p = net.add('gpu', pool, { input });
  const me = net.add('me', requester);
  const got = () => (me.getSnapshot().context as { got: PoolNotice[] }).got.map((n) => `${n.type.slice(5)}:${n.requestId}`);
  const ctx = () => p.getSnapshot().context as PoolContext;
  const acquire = (requestId: string, extra: Record<string, unknown> = {}) => p.send({ type: 'pool.acquire', requestId, replyTo: 'me', ...extra });
  return { net, p, got, ctx, acquire };
}

describe('flow control by key (issue 11)', () => {
  test('perKey caps one tenant\'s holders; the others are served meanwhile; a release lets the tenant\'s next one in', async () => {
    const { net, p, got, ctx, acquire } = setupPool({ capacity: 4, perKey: 1 });
    for (const id of ['a1', 'a2', 'a3']) acquire(id, { key: 'tenant-a' });
    acquire('b1', { key: 'tenant-b' });
    acquire('c1', { key: 'tenant-c' });
    await net.settle();
    expect(got()).toEqual(['granted:a1', 'granted:b1', 'granted:c1']); // a slot stays free: tenant-a is at its limit
    expect(ctx().queue.map((r) => r.requestId)).toEqual(['a2', 'a3']);
    p.send({ type: 'pool.release', requestId: 'a1' });
    await net.settle();
    expect(got().at(-1)).toBe('granted:a2');
  });

  test('free slots go round robin across keys: a burst from one tenant does not starve a later one', async () => {
    const { net, p, got, acquire } = setupPool({ capacity: 1 });
    acquire('hold');
    for (const id of ['a1', 'a2', 'a3', 'a4']) acquire(id, { key: 'tenant-a' });
    acquire('b1', { key: 'tenant-b' });
    acquire('b2', { key: 'tenant-b' });
    await net.settle();
    for (const done of ['hold', 'a1', 'b1', 'a2', 'b2', 'a3']) {
      p.send({ type: 'pool.release', requestId: done });
      await net.settle();
    }
    expect(got()).toEqual(['granted:hold', 'granted:a1', 'granted:b1', 'granted:a2', 'granted:b2', 'granted:a3', 'granted:a4']);
  });

  test("one tenant's burst of 1,000 delays another tenant's single request by at most one slot turn", async () => {
    const { net, p, got, acquire } = setupPool({ capacity: 2 });
    for (let i = 0; i < 1_000; i++) acquire(`a${i}`, { key: 'burst' });
    await net.settle();
    acquire('b0', { key: 'single' });
    await net.settle();
    const before = got().length; // the two slots went to the burst
    p.send({ type: 'pool.release', requestId: 'a0' });
    await net.settle();
    expect(got().slice(before)).toEqual(['granted:b0']); // the very next free slot
  });

  test('singleton per key: skip refuses a newcomer with a non-retryable PoolKeyBusy; replace revokes the old holder', async () => {
    const skip = setupPool({ capacity: 10, perKey: 1, onKeyBusy: 'skip' });
    skip.acquire('run-1', { key: 'order-7' });
    skip.acquire('run-2', { key: 'order-7' });
    skip.acquire('other', { key: 'order-8' });
    await skip.net.settle();
    expect(skip.got()).toEqual(['granted:run-1', 'expired:run-2', 'granted:other']);
    const refused = (skip.net.get('me').getSnapshot().context as { got: PoolNotice[] }).got[1];
    expect(refused).toMatchObject({ error: { name: 'NonRetryableError', data: { type: 'PoolKeyBusy' } } });

    const replace = setupPool({ capacity: 10, perKey: 1, onKeyBusy: 'replace' });
    replace.acquire('run-1', { key: 'order-7' });
    await replace.net.settle();
    replace.acquire('run-2', { key: 'order-7' });
    await replace.net.settle();
    expect(replace.got()).toEqual(['granted:run-1', 'revoked:run-1', 'granted:run-2']);
    expect(Object.keys(replace.ctx().leases)).toEqual(['run-2']);
  });

  test('bad flow-control settings are refused naming the field', () => {
    for (const [input, field] of [[{ capacity: 1, perKey: 0 }, 'pool.perKey'], [{ capacity: 1, onKeyBusy: 'skip' }, 'pool.onKeyBusy'], [{ capacity: 1, perKey: 1, onKeyBusy: 'drop' }, 'pool.onKeyBusy']] as const) {
      const actor = createActor(pool, { input: input as never });
      let error: unknown;
      actor.subscribe({ error: (e) => void (error = e) });
      actor.start();
      expect(error).toBeInstanceOf(InvalidConfigError);
      expect((error as InvalidConfigError).field).toBe(field);
    }
  });
});

describe('resource pool (issue 11)', () => {
  test('grants up to its capacity, queues the rest in order, and serves the queue as slots free', async () => {
    const { net, p, got, ctx, acquire } = setupPool({ capacity: 2 });
    for (const id of ['a', 'b', 'c', 'd']) acquire(id);
    await net.settle();
    expect(got()).toEqual(['granted:a', 'granted:b']);
    expect(ctx().queue.map((r) => r.requestId)).toEqual(['c', 'd']);
    acquire('a'); // a repeated request of a holder is granted again, not queued
    acquire('c'); // a repeated queued request keeps its place
    p.send({ type: 'pool.release', requestId: 'b' });
    await net.settle();
    expect(got()).toEqual(['granted:a', 'granted:b', 'granted:a', 'granted:c']);
    p.send({ type: 'pool.cancel', requestId: 'd' }); // gave up while queued
    p.send({ type: 'pool.release', requestId: 'a' });
    await net.settle();
    expect(Object.keys(ctx().leases)).toEqual(['c']);
    expect(ctx().queue).toEqual([]);
  });

  test('a higher priority goes first, and waiting ages a request past newer urgent ones (no starvation)', async () => {
    const { net, p, got, acquire } = setupPool({ capacity: 1, agingMs: 1_000 });
    acquire('holder');
    acquire('low', { priority: 0 });
    await net.advance(500);
    acquire('high', { priority: 1 });
    await net.settle();
    p.send({ type: 'pool.release', requestId: 'holder' });
    await net.settle();
    expect(got().at(-1)).toBe('granted:high'); // low has waited 500 ms: still below high
    await net.advance(5_000); // low has now waited 5.5 s: 5 levels of aging
    acquire('urgent', { priority: 3 });
    await net.settle();
    p.send({ type: 'pool.release', requestId: 'high' });
    await net.settle();
    expect(got().at(-1)).toBe('granted:low');
  });

  test('a request not served by its deadline fails with a retryable PoolDeadline; a lease that runs out is revoked and its slot reused', async () => {
    const { net, got, ctx, acquire } = setupPool({ capacity: 1, leaseMs: 10_000 });
    acquire('first');
    acquire('impatient', { deadlineMs: 2_000 });
    acquire('patient');
    await net.advance(2_000);
    expect(got()).toEqual(['granted:first', 'expired:impatient']);
    const expired = (net.get('me').getSnapshot().context as { got: PoolNotice[] }).got[1];
    expect(expired).toMatchObject({ error: { name: 'RetryableError', data: { type: 'PoolDeadline' } } });
    await net.advance(8_000); // first's lease (10 s) runs out
    expect(got()).toEqual(['granted:first', 'expired:impatient', 'revoked:first', 'granted:patient']);
    expect(ctx().leases['patient']).toMatchObject({ waitedMs: 10_000 });
  });

  test('a restored pool keeps its holders, queue and due lease', async () => {
    const { net, p, acquire } = setupPool({ capacity: 1, leaseMs: 5_000 });
    acquire('a');
    acquire('b');
    await net.settle();
    const restoredNet = createNet(net.clock.now());
    const restored = restoredNet.add('gpu', pool, { input: { capacity: 1 }, snapshot: p.getPersistedSnapshot() });
    restoredNet.add('me', requester);
    expect(Object.keys((restored.getSnapshot().context as PoolContext).leases)).toEqual(['a']);
    await restoredNet.advance(5_000);
    // The lease's timer came back with the snapshot (as troupe.timer after a restore, or the armed delay).
    restored.send({ type: 'troupe.timer', key: 'pool:tick' });
    await restoredNet.settle();
    expect((restoredNet.get('me').getSnapshot().context as { got: PoolNotice[] }).got.map((n) => `${n.type}:${n.requestId}`)).toEqual(['pool.revoked:a', 'pool.granted:b']);
  });

  test('refuses a capacity below one with InvalidConfigError (the actor fails to start, its supervisor sees why)', () => {
    const actor = createActor(pool, { input: { capacity: 0 } });
    actor.subscribe({ error: () => undefined });
    actor.start();
    expect(actor.getSnapshot().status).toBe('error');
    expect(actor.getSnapshot().error).toBeInstanceOf(InvalidConfigError);
  });
});

describe('resource pool as a Troupe actor', () => {
  test('pool.status answers an ask with its capacity, holders and queue', async () => {
    const { testSystem } = await import('../../fixtures/system.js');
    await using t = await testSystem({ name: 'res' });
    const gpu = t.system.spawn(t.system.register('pool', pool), { id: 'gpu', input: { capacity: 1 } });
    t.system.spawn(t.system.register('requester', requester), { id: 'me' });
    gpu.tell({ type: 'pool.acquire', requestId: 'r1', replyTo: 'res/me' });
    gpu.tell({ type: 'pool.acquire', requestId: 'r2', replyTo: 'res/me', priority: 2 });
    const status = await gpu.ask<{ capacity: number; holders: Array<{ requestId: string }>; queue: Array<{ requestId: string; priority: number }> }>({ type: 'pool.status' });
    expect(status.capacity).toBe(1);
    expect(status.holders.map((h) => h.requestId)).toEqual(['r1']);
    expect(status.queue).toEqual([expect.objectContaining({ requestId: 'r2', priority: 2 })]);
    expect(await t.system.lookup('res/me').waitFor((s) => (s as { context: { got: PoolNotice[] } }).context.got.length === 1)).toBeDefined();
  });
});

describe('steps that use pools (issue 11)', () => {
  test('an attempt waits, visibly, for every pool it uses, runs once granted, and gives the slots back', async () => {
    const started: string[] = [];
    let finishW1!: () => void;
    const w1Holds = new Promise<void>((resolve) => (finishW1 = resolve));
    const wf = (id: string) => workflow(id, {
      steps: [step('draft', async () => { started.push(id); if (id === 'w1') await w1Holds; return id; }, { uses: ['gpu', 'rpm'] })],
    });
    const net = createNet();
    const gpu = net.add('gpu', pool, { input: { capacity: 1 } });
    net.add('rpm', pool, { input: { capacity: 5 } });
    net.add('w1', wf('w1'));
    net.add('w2', wf('w2'));
    await net.settle();
    // w1 holds the GPU; w2 waits for it, and has not asked the next pool yet (pools are asked one at a time).
    expect(net.path('w2')).toEqual(['draft.waiting']);
    expect((gpu.getSnapshot().context as PoolContext).queue.map((q) => q.requestId)).toEqual(['w2/draft/1#0']);
    expect(Object.keys((net.get('rpm').getSnapshot().context as PoolContext).leases)).toEqual(['w1/draft/1#1']);
    finishW1(); // w1's attempt ends: its GPU slot goes to w2
    for (let i = 0; i < 100 && net.get('w2').getSnapshot().status !== 'done'; i++) await net.settle();
    expect(started).toEqual(['w1', 'w2']);
    expect(net.path('w1')).toEqual(['draft.waiting', 'draft.running', 'completed']);
    expect(net.path('w2')).toEqual(['draft.waiting', 'draft.running', 'completed']);
    expect(traceLines(net.trace.filter((e) => e.workflowId === 'w2'))).toEqual([
      'draft:pending->waiting(waiting-for-resources)', 'draft:waiting->waiting(granted)', 'draft:waiting->running(started)',
      'draft:running->done(succeeded)', 'workflow:running->completed(completed)',
    ]);
    // Every slot went back: nothing held, nothing queued.
    for (const address of ['gpu', 'rpm']) expect(net.get(address).getSnapshot().context).toMatchObject({ leases: {}, queue: [] });
  });

  test('a step names its flow-control key from the workflow input: one tenant waits at its limit while another runs', async () => {
    const holds: Array<() => void> = [];
    const wf = workflow('w', {
      steps: [step('draft', async () => { await new Promise<void>((resolve) => holds.push(resolve)); return 1; }, { uses: ['llm'], poolKey: (input: { tenant: string }) => input.tenant })],
    });
    const net = createNet();
    const llm = net.add('llm', pool, { input: { capacity: 3, perKey: 1 } });
    net.add('a1', wf, { input: { tenant: 'acme' } });
    net.add('a2', wf, { input: { tenant: 'acme' } });
    net.add('b1', wf, { input: { tenant: 'globex' } });
    await net.settle();
    const c = llm.getSnapshot().context as PoolContext;
    expect(Object.values(c.leases).map((l) => [l.requestId, l.key]).sort()).toEqual([['a1/draft/1#0', 'acme'], ['b1/draft/1#0', 'globex']]);
    expect(c.queue.map((r) => [r.requestId, r.key])).toEqual([['a2/draft/1#0', 'acme']]);
    expect(net.path('a2')).toEqual(['draft.waiting']);
    holds.shift()!(); // a1's attempt ends: acme's slot goes to a2
    for (let i = 0; i < 50 && net.path('a2').at(-1) !== 'draft.running'; i++) await net.settle();
    expect(net.path('a2').at(-1)).toBe('draft.running');
    expect(() => workflow('x', { steps: [step('x', async () => 1, { poolKey: () => 'k' } as never)] })).toThrow(/poolKey/);
    for (const release of holds.splice(0)) release();
  });

  test('a workflow aborted while a step waits gives its queued request back (the pool serves others, never the dead run)', async () => {
    const wf = workflow('w', {
      steps: [
        step('a', async () => 1, { uses: ['gpu'] }),
      ],
    });
    const net = createNet();
    const gpu = net.add('gpu', pool, { input: { capacity: 1, leaseMs: 60_000 } });
    gpu.send({ type: 'pool.acquire', requestId: 'hog', replyTo: 'nobody' });
    const run = net.add('w', wf);
    await net.settle();
    expect(net.path('w')).toEqual(['a.waiting']);
    run.send({ type: 'workflow.cancel', reason: 'customer left' });
    await net.settle();
    expect(run.getSnapshot().output).toMatchObject({ status: 'aborted' });
    expect((gpu.getSnapshot().context as PoolContext).queue).toEqual([]); // its request was cancelled on the way out
    expect(Object.keys((gpu.getSnapshot().context as PoolContext).leases)).toEqual(['hog']);
  });
});

describe('step concurrency per workflow definition and per system (issue 11)', () => {
  /** Steps that block until released, counting how many run at once. */
  function gatedSteps() {
    const gates: Array<() => void> = [];
    let running = 0;
    let peak = 0;
    const run = async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise<void>((resolve) => gates.push(resolve));
      running--;
      return 1;
    };
    const releaseAll = async (net: ReturnType<typeof createNet>, done: () => boolean) => {
      for (let i = 0; i < 200 && !done(); i++) {
        for (const open of gates.splice(0)) open();
        await net.settle();
      }
    };
    return { run, releaseAll, peak: () => peak, running: () => running };
  }

  test("a pool named by two definitions caps their running steps together; a definition's own pool caps only its runs", async () => {
    const g = gatedSteps();
    // Narrowest first: a checkout queued for its own pool holds no slot of the system's meanwhile.
    const checkout = workflow('checkout', { concurrency: ['checkout-steps', 'all-steps'], steps: [step('a', g.run), step('b', g.run)] });
    const refund = workflow('refund', { concurrency: ['all-steps'], steps: [step('a', g.run)] });
    const net = createNet();
    const all = net.add('all-steps', pool, { input: { capacity: 3 } });
    const own = net.add('checkout-steps', pool, { input: { capacity: 1 } });
    for (const id of ['c1', 'c2', 'c3']) net.add(id, checkout);
    for (const id of ['r1', 'r2', 'r3']) net.add(id, refund);
    await net.settle();
    // checkout: one step at a time across its runs (its own pool); the system pool's other two slots go to refunds.
    expect(g.running()).toBe(3);
    const holders = (p: typeof all) => Object.keys((p.getSnapshot().context as PoolContext).leases).map((r) => r.split('/')[0] ?? r).sort();
    expect(holders(own)).toEqual(['c1']);
    expect(holders(all)).toEqual(['c1', 'r1', 'r2']);
    expect((all.getSnapshot().context as PoolContext).queue.map((r) => r.requestId)).toEqual(['r3/a/1#0']);
    expect(['c2', 'c3'].map((id) => net.path(id).at(-1))).toEqual(['a.waiting', 'a.waiting']);

    await g.releaseAll(net, () => ['c1', 'c2', 'c3', 'r1', 'r2', 'r3'].every((id) => net.get(id).getSnapshot().status === 'done'));
    for (const id of ['c1', 'c2', 'c3', 'r1', 'r2', 'r3']) expect(net.get(id).getSnapshot().output).toMatchObject({ status: 'completed' });
    expect(g.peak()).toBe(3);
    for (const p of [all, own]) expect(p.getSnapshot().context).toMatchObject({ leases: {}, queue: [] });
  });

  test('a limit with a key counts per tenant: one tenant at its limit waits while another runs', async () => {
    const g = gatedSteps();
    const wf = workflow('draft', { concurrency: [{ pool: 'tenant-steps', key: (input: { tenant: string }) => input.tenant }], steps: [step('draft', g.run)] });
    const net = createNet();
    const p = net.add('tenant-steps', pool, { input: { capacity: 10, perKey: 1 } });
    net.add('a1', wf, { input: { tenant: 'acme' } });
    net.add('a2', wf, { input: { tenant: 'acme' } });
    net.add('b1', wf, { input: { tenant: 'globex' } });
    await net.settle();
    const c = p.getSnapshot().context as PoolContext;
    expect(Object.values(c.leases).map((l) => [l.requestId, l.key]).sort()).toEqual([['a1/draft/1#0', 'acme'], ['b1/draft/1#0', 'globex']]);
    expect(c.queue.map((r) => [r.requestId, r.key])).toEqual([['a2/draft/1#0', 'acme']]);
    await g.releaseAll(net, () => ['a1', 'a2', 'b1'].every((id) => net.get(id).getSnapshot().status === 'done'));
    expect(net.path('a2')).toEqual(['draft.waiting', 'draft.running', 'completed']);
  });

  test('a run waiting for its retry holds no slot (the limit counts running steps, not runs)', async () => {
    let calls = 0;
    const flaky = workflow('flaky', {
      concurrency: ['steps'],
      steps: [step('a', async () => { if (++calls === 1) throw new RetryableError('busy'); return 'ok'; }, { retry: { maximumAttempts: 2, initialInterval: 5_000, jitter: 0 } })],
    });
    const other = workflow('other', { concurrency: ['steps'], steps: [step('a', async () => 'ok')] });
    const net = createNet();
    const p = net.add('steps', pool, { input: { capacity: 1 } });
    net.add('f', flaky);
    await net.settle();
    expect(net.path('f').at(-1)).toBe('a.retrying');
    net.add('o', other); // the slot is free while f waits out its backoff
    await net.settle();
    expect(net.get('o').getSnapshot().output).toMatchObject({ status: 'completed' });
    await net.advance(5_000);
    expect(net.get('f').getSnapshot().output).toMatchObject({ status: 'completed' });
    expect(p.getSnapshot().context).toMatchObject({ leases: {}, queue: [] });
  });

  test("a step's own use of the pool counts once, with the step's key; bad limits fail the definition with the field named", async () => {
    const wf = workflow('w', { concurrency: [{ pool: 'gpu', key: () => 'definition-key' }, 'all'], steps: [step('a', async () => 1, { uses: ['gpu'], poolKey: () => 'step-key' })] });
    expect(wf.troupeServices(undefined, 'sys/w').map((s) => `${s.role}=${s.address}`)).toEqual(['concurrency[0]=gpu', 'concurrency[1]=all', 'steps.a.uses[0]=gpu']);
    const net = createNet();
    const gpu = net.add('gpu', pool, { input: { capacity: 1 } });
    net.add('all', pool, { input: { capacity: 1 } });
    gpu.send({ type: 'pool.acquire', requestId: 'hog', replyTo: 'nobody' });
    net.add('w', wf);
    await net.settle();
    expect((gpu.getSnapshot().context as PoolContext).queue.map((r) => [r.requestId, r.key])).toEqual([['w/a/1#0', 'step-key']]);
    gpu.send({ type: 'pool.release', requestId: 'hog' });
    await net.settle();
    expect(net.get('w').getSnapshot().output).toMatchObject({ status: 'completed' });
    expect(net.trace.filter((e) => e.outcome === 'waiting-for-resources').map((e) => e.detail)).toEqual([{ uses: ['gpu', 'all'] }]);
    for (const [concurrency, field] of [
      ['gpu', 'concurrency'], [[''], 'concurrency[0]'], [['a', 'a'], 'concurrency[1]'], [[{ pool: 'a', key: 'tenant' }], 'concurrency[0].key'], [[{ key: () => 'k' }], 'concurrency[0]'],
    ] as const) {
      expect(() => workflow('x', { concurrency: concurrency as never, steps: [step('a', async () => 1)] }), JSON.stringify(concurrency)).toThrow(expect.objectContaining({ stepField: field }));
    }
  });
});
