import { assign, setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { reply } from '../../machines/emit.js';
import { createManualClock, createSystem, DeadLetterError, type ManualClock, type RuntimeEvent } from '../../src/index.js';
import { decodeRecord } from '../../src/durable/durable-record.js';
import { createMemoryMailboxLog } from '../../src/persistence/memory/memory-mailbox-log.js';
import { createMemorySnapshotStore } from '../../src/persistence/memory/memory-snapshot-store.js';
import type { MailboxLog } from '../../src/persistence/mailbox-log.js';
import type { SnapshotStore } from '../../src/persistence/snapshot-store.js';
import { settle } from '../fixtures/system.js';

const counter = setup({
  types: { context: {} as { count: number }, events: {} as { type: 'inc' } | { type: 'get' } | { type: 'crash' } | { type: 'arm' } },
  actions: { explode: () => { throw new Error('boom'); } },
}).createMachine({
  context: { count: 0 },
  initial: 'idle',
  states: {
    idle: { on: { arm: 'waiting' } },
    waiting: { after: { 2000: { target: 'idle', actions: assign({ count: ({ context }) => context.count + 100 }) } } },
  },
  on: {
    inc: { actions: assign({ count: ({ context }) => context.count + 1 }) },
    get: { actions: reply(({ context }) => context.count) },
    crash: { actions: 'explode' },
  },
});

/** Backends that outlive one system, like a NATS server outlives a process. */
function sharedBackends(): { store: SnapshotStore; log: MailboxLog; durability: { store: SnapshotStore; log: MailboxLog } } {
  const store = createMemorySnapshotStore();
  const log = createMemoryMailboxLog({ shards: 4 });
  const keepOpen = <T extends { close(): Promise<void> }>(x: T): T => ({ ...x, close: async () => {} }) as T;
  return { store, log, durability: { store: keepOpen(store), log: keepOpen(log) } };
}

async function node(clock: ManualClock, durability: { store: SnapshotStore; log: MailboxLog }) {
  const system = await createSystem({ name: 'dur', clock, logLevel: 'silent', durability, supervision: { backoff: { minMs: 0, jitter: 0 } } });
  system.register('counter', counter);
  return system;
}

describe('durable actors on the embedded default', () => {
  it('persists before answering and resumes from the store in a new system', async () => {
    const clock = createManualClock(0);
    const shared = sharedBackends();
    const first = await node(clock, shared.durability);
    const ref = first.spawn<typeof counter>('counter', { id: 'c1', durable: true });
    await ref.deliver({ type: 'inc' });
    ref.tell({ type: 'inc' });
    expect(await ref.ask({ type: 'get' })).toBe(2);
    const stored = decodeRecord((await shared.store.get('dur.c1'))!.value);
    expect(stored.status).toBe('active');
    expect((stored.snapshot as { context: { count: number } }).context.count).toBe(2);
    expect(stored.lastSeq).toBeGreaterThanOrEqual(3);
    await first.shutdown();

    const second = await node(clock, shared.durability);
    expect(await second.recover()).toEqual(['dur/c1']);
    const again = second.lookup<typeof counter>('dur/c1');
    again.tell({ type: 'inc' });
    expect(await again.ask({ type: 'get' })).toBe(3);
    await second.shutdown();
  });

  it('reschedules a pending `after` timer at its stored due time, once', async () => {
    const clock = createManualClock(0);
    const shared = sharedBackends();
    const first = await node(clock, shared.durability);
    const ref = first.spawn<typeof counter>('counter', { id: 't1', durable: true });
    ref.tell({ type: 'arm' });
    expect(await ref.ask({ type: 'get' })).toBe(0);
    const stored = decodeRecord((await shared.store.get('dur.t1'))!.value);
    expect(stored.timers).toHaveLength(1);
    expect(stored.timers[0]!.dueAt).toBe(2000);
    await first.shutdown();

    clock.advance(500); // "down" for half a second
    const second = await node(clock, shared.durability);
    await second.recover();
    const again = second.lookup<typeof counter>('dur/t1');
    clock.advance(1499);
    await settle();
    expect(await again.ask({ type: 'get' })).toBe(0);
    clock.advance(1);
    await settle();
    expect(await again.ask({ type: 'get' })).toBe(100);
    clock.advance(10_000);
    await settle();
    expect(await again.ask({ type: 'get' })).toBe(100);
    await second.shutdown();
  });

  it('a supervisor restart resumes from the last persisted snapshot, dropping only the failed message', async () => {
    const clock = createManualClock(0);
    const shared = sharedBackends();
    const system = await node(clock, shared.durability);
    const ref = system.spawn<typeof counter>('counter', { id: 'r1', durable: true });
    ref.tell({ type: 'inc' });
    ref.tell({ type: 'inc' });
    expect(await ref.ask({ type: 'get' })).toBe(2);
    ref.tell({ type: 'crash' });
    ref.tell({ type: 'inc' });
    await settle();
    clock.advance(0);
    await settle();
    expect(await ref.ask({ type: 'get' })).toBe(3);
    expect(system.deadLetters.count('handler-failed')).toBe(1);
    await system.shutdown();
  });

  it('garbage on a mailbox subject is dead-lettered and acked, and the node keeps working', async () => {
    const clock = createManualClock(0);
    const shared = sharedBackends();
    const system = await node(clock, shared.durability);
    const ref = system.spawn<typeof counter>('counter', { id: 'g1', durable: true });
    await system.recover();
    for (let i = 0; i < 20; i++) await shared.log.append(`troupe.dur.mbox.${i % 4}.dur.g1`, new Uint8Array([i, 0xc1, 7]), `garbage-${i}`);
    ref.tell({ type: 'inc' });
    await settle(10);
    expect(await ref.ask({ type: 'get' })).toBe(1);
    expect(await shared.log.deadLetterCount()).toBe(20);
    expect(system.durabilityStats().rejected).toBe(20);
    await expect(system.lookup('dur/nobody').deliver({ type: 'inc' })).rejects.toBeInstanceOf(DeadLetterError);
    await system.shutdown();
  });

  it('never writes a state without the log sequence of the message that produced it', async () => {
    // Regression: a write started by the snapshot change, before the message was marked handled, stored the
    // new count with the old lastSeq; a crash then would have let the redelivered message count twice.
    const clock = createManualClock(0);
    const shared = sharedBackends();
    const written: { lastSeq: number; count: number }[] = [];
    const store: SnapshotStore = {
      ...shared.durability.store,
      put: async (key, value, expected) => {
        const record = decodeRecord(value);
        written.push({ lastSeq: record.lastSeq, count: (record.snapshot as { context: { count: number } }).context.count });
        return shared.store.put(key, value, expected);
      },
    };
    const system = await node(clock, { store, log: shared.durability.log });
    const ref = system.spawn<typeof counter>('counter', { id: 'w1', durable: true });
    for (let i = 1; i <= 10; i++) {
      await ref.deliver({ type: 'inc' });
      expect(await ref.ask({ type: 'get' })).toBe(i);
    }
    await system.shutdown();
    const countsBySeq = new Map<number, Set<number>>();
    for (const w of written) countsBySeq.set(w.lastSeq, (countsBySeq.get(w.lastSeq) ?? new Set()).add(w.count));
    expect(written.length).toBeGreaterThanOrEqual(10); // each answer waits for a write that covers it
    for (const counts of countsBySeq.values()) expect(counts.size).toBe(1);
  });

  it('restores a snapshot of an older logic version through migrate, and fails clearly without one', async () => {
    const clock = createManualClock(0);
    const shared = sharedBackends();
    const v1 = await node(clock, shared.durability);
    const ref = v1.spawn<typeof counter>('counter', { id: 'm1', durable: true });
    for (let i = 0; i < 3; i++) ref.tell({ type: 'inc' });
    expect(await ref.ask({ type: 'get' })).toBe(3);
    await v1.shutdown();

    // v2 counts in tens: its migrate scales the stored count.
    const migrating = await createSystem({ name: 'dur', clock, logLevel: 'silent', durability: shared.durability });
    migrating.register('counter', counter, {
      version: 2,
      migrate: (snapshot, from) => {
        const s = snapshot as { context: { count: number } };
        return from === 1 ? { ...s, context: { ...s.context, count: s.context.count * 10 } } : s;
      },
    });
    expect(await migrating.recover()).toEqual(['dur/m1']);
    expect(await migrating.lookup('dur/m1').ask({ type: 'get' })).toBe(30);
    await migrating.shutdown();
    expect(decodeRecord((await shared.store.get('dur.m1'))!.value).version).toBe(2);

    // v3 without migrate: the actor cannot start, and says why; it never runs on a snapshot it does not understand.
    const strict = await createSystem({ name: 'dur', clock, logLevel: 'silent', durability: shared.durability, supervision: { intensity: 0 } });
    strict.register('counter', counter, { version: 3 });
    const failures: RuntimeEvent[] = [];
    strict.subscribe((e) => e.type === 'rt.actor.failed' && failures.push(e));
    await strict.recover();
    await settle();
    const termination = await strict.terminated;
    expect(termination.reason).toBe('failed');
    const failure = failures[0] as Extract<RuntimeEvent, { type: 'rt.actor.failed' }>;
    expect(failure.kind).toBe('start-error');
    expect(failure.error.cause?.name).toBe('VersionMismatchError');
    expect(failure.error.cause?.message).toMatch(/version 2; logic counter v3 has no migrate/);
    expect(decodeRecord((await shared.store.get('dur.m1'))!.value).version).toBe(2); // the stored record is untouched
  });
});

describe('durable timers (issue 8)', () => {
  const twoTimers = setup({
    types: { context: {} as { fired: string[] }, events: {} as { type: 'get' } },
  }).createMachine({
    context: { fired: [] },
    type: 'parallel',
    states: {
      slow: { initial: 'waiting', states: { waiting: { after: { 3_600_000: { target: 'fired', actions: assign({ fired: ({ context }) => [...context.fired, 'hour'] }) } } }, fired: {} } },
      fast: { initial: 'waiting', states: { waiting: { after: { 1_000: { target: 'fired', actions: assign({ fired: ({ context }) => [...context.fired, 'second'] }) } } }, fired: {} } },
    },
    on: { get: { actions: reply(({ context }) => context.fired) } },
  });

  it('stamps each timer of the initial state with its own due time, and fires overdue ones in due order after a restore', async () => {
    const clock = createManualClock(10_000);
    const shared = sharedBackends();
    const first = await createSystem({ name: 'tim', clock, logLevel: 'silent', durability: shared.durability });
    first.register('two', twoTimers);
    const ref = first.spawn<typeof twoTimers>('two', { id: 't1', durable: true });
    await settle();
    const stored = decodeRecord((await shared.store.get('tim.t1'))!.value);
    const due = Object.fromEntries(stored.timers.map((t) => [t.event.type.includes('3600000') ? 'hour' : 'second', t.dueAt]));
    expect(due).toEqual({ hour: 10_000 + 3_600_000, second: 10_000 + 1_000 });
    void ref;
    await first.shutdown();

    // Two hours later, a new system restores it: both timers are overdue and fire earliest first.
    clock.advance(2 * 3_600_000);
    const second = await createSystem({ name: 'tim', clock, logLevel: 'silent', durability: shared.durability });
    second.register('two', twoTimers);
    expect(await second.recover()).toEqual(['tim/t1']);
    await settle();
    clock.advance(0);
    await settle();
    expect(await second.lookup<typeof twoTimers>('tim/t1').ask({ type: 'get' })).toEqual(['second', 'hour']);
    await second.shutdown();
  });
});

describe('result() of a durable actor this node hosts (issue 8)', () => {
  const finisher = setup({ types: { context: {} as { value: number }, events: {} as { type: 'finish'; value: number } } }).createMachine({
    context: { value: 0 },
    initial: 'open',
    states: { open: { on: { finish: { target: 'closed', actions: assign({ value: ({ event }) => event.value }) } } }, closed: { type: 'final' } },
    output: ({ context }) => ({ value: context.value }),
  });

  it('resolves from the stored final record as the cell writes it, without polling the store', async () => {
    const shared = sharedBackends();
    let gets = 0;
    const store = { ...shared.durability.store, get: (key: string) => (gets++, shared.durability.store.get(key)) };
    const system = await createSystem({ name: 'res', logLevel: 'silent', durability: { store, log: shared.durability.log } });
    system.register('finisher', finisher);
    const ref = system.spawn<typeof finisher>('finisher', { id: 'f1', durable: true });
    const result = ref.result();
    await settle();
    const getsBefore = gets;
    await ref.deliver({ type: 'finish', value: 7 });
    expect(await result).toEqual({ value: 7 });
    expect(decodeRecord((await shared.store.get('res.f1'))!.value).status, 'resolved only once the done record is stored').toBe('done');
    expect(gets - getsBefore, 'no store reads while waiting').toBe(0);
    await system.shutdown();
  });
});

describe('ref.ready (issue 13)', () => {
  it("a durable actor's snapshot is there once `ready` resolves (its record is read first); an ordinary one's at once", async () => {
    const shared = sharedBackends();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // A store whose first read waits: the durable actor cannot have a snapshot before it answers.
    const store = { ...shared.durability.store, get: async (key: string) => (await gate, shared.durability.store.get(key)) };
    const system = await createSystem({ name: 'rdy', logLevel: 'silent', durability: { store, log: shared.durability.log } });
    system.register('counter', counter);
    const durable = system.spawn<typeof counter>('counter', { id: 'd1', durable: true });
    const plain = system.spawn<typeof counter>('counter', { id: 'p1' });
    await plain.ready;
    expect(plain.getSnapshot()?.context.count).toBe(0);
    expect(durable.getSnapshot()).toBeUndefined();
    let ready = false;
    const waiting = durable.ready.then(() => void (ready = true));
    await settle();
    expect(ready, 'not ready while the record is being read').toBe(false);
    release();
    await waiting;
    expect(durable.getSnapshot()?.context.count).toBe(0);
    await system.shutdown();
  });
});
