/**
 * Issue 8, "Bounded growth", on a real nats-server: a finished durable actor's record moves from the snapshot bucket
 * (the index of active actors that `recover()` lists) to the finished bucket, whose TTL compacts it; the mailbox
 * stream drops the messages every shard's consumer has acked after `purgeEvery` of them; the dead-letter stream has
 * configurable limits. Every check reads what JetStream holds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { createSystem, InvalidConfigError, type TroupeSystem } from '../../src/index.js';
import { createJetStreamMailboxLog } from '../../src/persistence/jetstream/jetstream-mailbox-log.js';
import { createKvSnapshotStore } from '../../src/persistence/jetstream/kv-snapshot-store.js';
import { shardOf } from '../../src/persistence/mailbox-log.js';
import { decodeRecord, encodeRecord } from '../../src/durable/durable-record.js';
import type { SnapshotStore } from '../../src/persistence/snapshot-store.js';
import { actorSubject, ids, ledger, persistedApplied, storedIds } from '../fixtures/exactly-once.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';
import { finishingCounter } from '../fixtures/machines.js';

let server: NatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  jsm = await jetstreamManager(nc);
});
afterAll(async () => {
  await nc?.close();
  await server?.cleanup();
});

/** Finishes (a final state) after 3 `inc`s; its output is what it saw. */
const counter = finishingCounter(3);

type NatsOptions = NonNullable<Parameters<typeof createSystem>[0]['nats']>;

async function open(name: string, nats: Omit<NatsOptions, 'servers'> = {}): Promise<TroupeSystem> {
  const system = await createSystem({ name, logLevel: 'silent', nats: { servers: server.url, shards: 2, ...nats } });
  system.register('counter', counter);
  system.register('ledger', ledger);
  return system;
}

/** The raw value of `key` in `bucket` (a PUT), or undefined (absent, deleted, expired). */
async function kvValue(bucket: string, key: string): Promise<Uint8Array | undefined> {
  const kv = await new Kvm(nc).open(bucket);
  const entry = await kv.get(key);
  return entry && entry.operation === 'PUT' ? entry.value : undefined;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A store that records every key it is asked for (get) and every listing it answers. */
function counting(inner: SnapshotStore): SnapshotStore & { gets: string[]; listed: string[][] } {
  const gets: string[] = [];
  const listed: string[][] = [];
  return {
    kind: inner.kind,
    gets,
    listed,
    get: (key) => (gets.push(key), inner.get(key)),
    put: (key, value, rev) => inner.put(key, value, rev),
    delete: (key, rev) => inner.delete(key, rev),
    keys: async (prefix) => {
      const keys = await inner.keys(prefix);
      listed.push(keys);
      return keys;
    },
    purgeDeletes: (older) => inner.purgeDeletes!(older),
    close: () => inner.close(),
  };
}

describe('bounded growth of durable storage (issue 8)', () => {
  it('a finish cut short (final record written, active record not yet deleted): recover() does not resume it, result() reads the final one', async () => {
    const first = await open('retcut');
    await first.recover();
    const ref = first.spawn<typeof counter>('counter', { id: 'cut', durable: true });
    await ref.deliver({ type: 'inc', n: 1 });
    expect(await ref.ask({ type: 'get' })).toEqual([1]);
    await first.shutdown();
    // What a crash between the two steps of a finish leaves: the last active record, and a newer final one.
    const activeBytes = (await kvValue('troupe_retcut_snapshots', 'retcut.cut'))!;
    const active = decodeRecord(activeBytes);
    const snapshot = active.snapshot as Record<string, unknown>;
    const final = { ...active, status: 'done' as const, snapshot: { ...snapshot, status: 'done', output: { seen: [1, 2, 3] } }, timers: [], updatedAt: active.updatedAt + 1 };
    await (await new Kvm(nc).open('troupe_retcut_finished')).put('retcut.cut', encodeRecord(final));

    const second = await open('retcut');
    expect(await second.recover(), 'a finished actor is not resumed').not.toContain('retcut/cut');
    expect(await kvValue('troupe_retcut_snapshots', 'retcut.cut'), 'its active record is deleted').toBeUndefined();
    expect(await second.result('retcut/cut', { timeoutMs: 5_000 })).toEqual({ seen: [1, 2, 3] });
    await second.shutdown();
  });

  it('a finished record moves to the finished bucket; result() still finds it; recover() never reads it', async () => {
    const host = await open('ret1');
    await host.recover();
    const done = host.spawn<typeof counter>('counter', { id: 'done1', durable: true });
    const active = host.spawn<typeof counter>('counter', { id: 'active1', durable: true });
    for (const n of [1, 2, 3]) await done.deliver({ type: 'inc', n });
    await active.deliver({ type: 'inc', n: 7 });
    expect(await active.ask({ type: 'get' })).toEqual([7]);
    expect(await done.result()).toEqual({ seen: [1, 2, 3] });
    // The move happens as the actor stops: the finished bucket has the record, the snapshot bucket does not.
    await until('the record moved', async () => (await kvValue('troupe_ret1_finished', 'ret1.done1')) !== undefined && (await kvValue('troupe_ret1_snapshots', 'ret1.done1')) === undefined);
    expect(await kvValue('troupe_ret1_snapshots', 'ret1.active1')).toBeDefined();
    // Retention: the default 7 days, as the finished bucket's TTL.
    expect((await jsm.streams.info('KV_troupe_ret1_finished')).config.max_age).toBe(nanos(7 * 24 * 3_600_000));
    await host.shutdown();

    // A fresh system instance: result() reads the finished bucket.
    const observer = await open('ret1');
    expect(await observer.result('ret1/done1', { timeoutMs: 5_000 })).toEqual({ seen: [1, 2, 3] });
    await observer.shutdown();

    // recover() lists and reads the snapshot bucket only: the active actor, never the finished one.
    const store = counting(await createKvSnapshotStore(nc, { bucket: 'troupe_ret1_snapshots' }));
    const finished = counting(await createKvSnapshotStore(nc, { bucket: 'troupe_ret1_finished' }));
    const log = await createJetStreamMailboxLog(nc, { system: 'ret1', shards: 2 });
    const recovering = await createSystem({ name: 'ret1', logLevel: 'silent', durability: { store, log, finished } });
    recovering.register('counter', counter);
    expect(await recovering.recover()).toEqual(['ret1/active1']);
    expect(store.listed).toEqual([['ret1.active1']]);
    expect(store.gets.filter((key) => key === 'ret1.done1')).toEqual([]);
    // Only the active record's own key: a finish cut short (final record written, active one not yet deleted) is
    // recognised by a newer final record beside it.
    expect(finished.gets).toEqual(['ret1.active1']);
    expect(await recovering.lookup<typeof counter>('ret1/active1').ask({ type: 'get' })).toEqual([7]);
    // The finished address can be spawned again: a fresh actor, and the old result stays in the finished bucket.
    const again = recovering.spawn<typeof counter>('counter', { id: 'done1', durable: true });
    await again.deliver({ type: 'inc', n: 9 });
    expect(await again.ask({ type: 'get' })).toEqual([9]);
    expect(await kvValue('troupe_ret1_snapshots', 'ret1.done1')).toBeDefined();
    await recovering.shutdown();
  });

  it('recover() finishes a move a crash cut short', async () => {
    const host = await open('ret5');
    await host.recover();
    const done = host.spawn<typeof counter>('counter', { id: 'c', durable: true });
    for (const n of [1, 2, 3]) await done.deliver({ type: 'inc', n });
    await done.result();
    await until('the record moved', async () => (await kvValue('troupe_ret5_snapshots', 'ret5.c')) === undefined);
    await host.shutdown();
    // Put it back as a crash between the two steps leaves it: in both buckets.
    const value = (await kvValue('troupe_ret5_finished', 'ret5.c'))!;
    await (await new Kvm(nc).open('troupe_ret5_snapshots')).put('ret5.c', value);
    const again = await open('ret5');
    expect(await again.recover()).toEqual([]);
    expect(await kvValue('troupe_ret5_snapshots', 'ret5.c')).toBeUndefined();
    expect(await again.result('ret5/c', { timeoutMs: 5_000 })).toEqual({ seen: [1, 2, 3] });
    await again.shutdown();
  });

  it('the finished bucket compacts a record after retention.finishedMs', async () => {
    const host = await open('ret2', { retention: { finishedMs: 1_500 } });
    await host.recover();
    const done = host.spawn<typeof counter>('counter', { id: 'c', durable: true });
    for (const n of [1, 2, 3]) await done.deliver({ type: 'inc', n });
    expect(await done.result()).toEqual({ seen: [1, 2, 3] });
    await until('the record moved', async () => (await kvValue('troupe_ret2_finished', 'ret2.c')) !== undefined);
    expect((await jsm.streams.info('KV_troupe_ret2_finished')).config.max_age).toBe(nanos(1_500));
    await until('JetStream expired the record', async () => (await kvValue('troupe_ret2_finished', 'ret2.c')) === undefined, 15_000);
    await host.shutdown();
  });

  it('applied messages are purged from the mailbox stream; nothing owed to any actor is lost', async () => {
    // Two actors on the same shard: a purge must not drop what the other one is still owed.
    const [a, b] = ['a', ...Array.from({ length: 50 }, (_, i) => `b${i}`)].reduce<string[]>(
      (found, id) => (found.length === 0 || (found.length === 1 && shardOf(`ret3/${id}`, 2) === shardOf(`ret3/${found[0]}`, 2)) ? [...found, id] : found),
      [],
    ) as [string, string];
    const system = await open('ret3', { retention: { purgeEvery: 10 } });
    await system.recover();
    const refA = system.spawn<typeof ledger>('ledger', { id: a, durable: true });
    const refB = system.spawn<typeof ledger>('ledger', { id: b, durable: true });
    const sentA = ids('a', 35);
    const sentB = ids('b', 20);
    for (let i = 0; i < sentA.length; i++) {
      await refA.deliver({ type: 'msg', id: sentA[i]! });
      if (i < sentB.length) void refB.deliver({ type: 'msg', id: sentB[i]! });
    }
    expect(await refA.ask({ type: 'get' })).toEqual(sentA);
    expect(await refB.ask({ type: 'get' })).toEqual(sentB);
    const subjectA = actorSubject('ret3', 2, a);
    // Compaction runs after every 10 acked messages: what is left on a's subject is at most the tail above the
    // last purge point (the oldest went first).
    let stored: string[] = [];
    await until('the stream was compacted', async () => (stored = await storedIds(nc, 'ret3', subjectA)).length <= 15);
    expect(stored).toEqual(sentA.slice(sentA.length - stored.length));
    expect((await storedIds(nc, 'ret3', actorSubject('ret3', 2, b))).length).toBeLessThan(sentB.length);
    await system.shutdown();

    // A new system instance: the state is intact, each id applied once, and messages sent now still arrive.
    const again = await open('ret3', { retention: { purgeEvery: 10 } });
    expect((await again.recover()).sort()).toEqual([`ret3/${a}`, `ret3/${b}`].sort());
    const moreA = ids('a2', 5);
    const moreB = ids('b2', 5);
    for (let i = 0; i < 5; i++) {
      await again.lookup<typeof ledger>(`ret3/${a}`).deliver({ type: 'msg', id: moreA[i]! });
      await again.lookup<typeof ledger>(`ret3/${b}`).deliver({ type: 'msg', id: moreB[i]! });
    }
    expect(await again.lookup<typeof ledger>(`ret3/${a}`).ask({ type: 'get' })).toEqual([...sentA, ...moreA]);
    expect(await again.lookup<typeof ledger>(`ret3/${b}`).ask({ type: 'get' })).toEqual([...sentB, ...moreB]);
    await again.shutdown();
    expect(await persistedApplied(nc, 'ret3', a)).toEqual([...sentA, ...moreA]);
    expect(await persistedApplied(nc, 'ret3', b)).toEqual([...sentB, ...moreB]);
  });

  it('the dead-letter stream takes its limits from nats.deadLetters, also when it exists', async () => {
    const first = await open('ret4', { deadLetters: { maxMsgs: 3 } });
    let config = (await jsm.streams.info('TROUPE_ret4_DLQ')).config;
    expect(config.max_msgs).toBe(3);
    expect(config.max_age).toBe(nanos(30 * 24 * 3_600_000));
    expect(config.max_bytes).toBe(1024 ** 3);
    await first.shutdown();
    const second = await open('ret4', { deadLetters: { maxMsgs: 5, maxAgeMs: 60_000 } });
    config = (await jsm.streams.info('TROUPE_ret4_DLQ')).config;
    expect(config.max_msgs).toBe(5);
    expect(config.max_age).toBe(nanos(60_000));
    await second.shutdown();
  });

  it('invalid retention and dead-letter settings are refused with InvalidConfigError naming the field', async () => {
    const cases: [Omit<NatsOptions, 'servers'>, string][] = [
      [{ deadLetters: { maxMsgs: 0 } }, 'deadLetters.maxMsgs'],
      [{ deadLetters: { maxAgeMs: 1.5 } }, 'deadLetters.maxAgeMs'],
      [{ deadLetters: { maxBytes: -2 } }, 'deadLetters.maxBytes'],
      [{ retention: { finishedMs: 0 } }, 'retention.finishedMs'],
      [{ retention: { purgeEvery: Number.NaN } }, 'retention.purgeEvery'],
    ];
    for (const [nats, field] of cases) {
      const error = await open('ret6', nats).then(
        (system) => system.shutdown().then(() => undefined),
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InvalidConfigError);
      expect((error as InvalidConfigError).field).toBe(field);
    }
  });
});
