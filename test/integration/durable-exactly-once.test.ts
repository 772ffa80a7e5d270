/**
 * Issue 8, the delivery guarantee of durable actors on a real nats-server: `ref.deliver(event)` resolves once the
 * message is stored in the mailbox stream, and then the message is applied exactly once to the actor's persisted
 * state, in stream order per actor; a message whose handler throws goes to TROUPE_<system>_DLQ and is never applied.
 *
 * Every check compares SETS of unique message ids against PERSISTED state (the KV record's XState context keeps
 * the list of applied ids, duplicates included): lost = stored minus applied, duplicated = applied more than once.
 * What was sent is read back from the mailbox stream itself; no test-side dedupe anywhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { createSystem, RetryableError, type ActorRef, type CreateSystemOptions, type RuntimeEvent, type TroupeSystem } from '../../src/index.js';
import { connectNats } from '../../src/transport/nats/connection-options.js';
import { createKvSnapshotStore } from '../../src/persistence/jetstream/kv-snapshot-store.js';
import { createJetStreamMailboxLog } from '../../src/persistence/jetstream/jetstream-mailbox-log.js';
import type { SnapshotStore } from '../../src/persistence/snapshot-store.js';
import { snapshotKey } from '../../src/persistence/snapshot-store.js';
import { step, workflow } from '../../machines/index.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';
import { until, within } from '../fixtures/chaos.js';
import {
  actorSubject,
  crasher,
  deadLetterEntries,
  expectDeadLettered,
  expectExactlyOnce,
  ids,
  ledger,
  persistedApplied,
  readRecord,
  storedIds,
} from '../fixtures/exactly-once.js';

const SHARDS = 2;
const LOG_LEVEL = (process.env['EO_LOG'] ?? 'silent') as CreateSystemOptions['logLevel'];
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let server: NatsServer;
let nc: NatsConnection;
const open: TroupeSystem[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url });
});
afterAll(async () => {
  for (const system of open) await system.shutdown({ timeoutMs: 2_000 }).catch(() => {});
  await nc?.close();
  await server?.cleanup();
});

async function start(name: string, extra: Partial<CreateSystemOptions> = {}): Promise<TroupeSystem> {
  const system = await createSystem({ name, logLevel: LOG_LEVEL, logDestination: process.stderr, nats: { servers: server.url, shards: SHARDS }, ...extra });
  open.push(system);
  system.register('ledger', ledger, { version: 1 });
  system.register('crasher', crasher, { version: 1 });
  return system;
}

type Ledger = ActorRef<typeof ledger>;

/** Delivers the ids in order without waiting between calls; resolves with the ids whose deliver() resolved. */
async function burst(ref: Ledger, sent: readonly string[], options: { poisoned?: readonly string[]; slow?: Record<string, number> } = {}): Promise<string[]> {
  const confirmed: string[] = [];
  const results = await Promise.allSettled(
    sent.map((id) =>
      ref.deliver({ type: 'msg', id, ...(options.poisoned?.includes(id) ? { poison: true } : {}), ...(options.slow?.[id] ? { slowMs: options.slow[id] } : {}) }).then(() => void confirmed.push(id)),
    ),
  );
  const failed = results.filter((r) => r.status === 'rejected');
  expect(failed, 'every deliver() of the burst resolves').toEqual([]);
  return confirmed;
}

/**
 * Waits until the actor has handled everything sent before (an ask is answered only once the record covering it
 * is stored, and it is behind every earlier message in the stream), then checks that the persisted state does not
 * change afterwards (a late redelivery applied again would show up), and returns it.
 */
async function settledState(system: TroupeSystem, ref: Ledger, id: string, quietMs = 1_000): Promise<string[]> {
  const answer = await within(15_000, `ask get of ${system.name}/${id}`, ref.ask<string[]>({ type: 'get' }, { timeoutMs: 14_000 }));
  const applied = await persistedApplied(nc, system.name, id);
  expect(answer, 'the answer reflects the persisted record').toEqual(applied);
  await sleep(quietMs);
  expect(await persistedApplied(nc, system.name, id), `the persisted state of ${id} is stable after ${quietMs} ms`).toEqual(applied);
  return applied;
}

async function waitForDeadLetters(name: string, subject: string, count: number) {
  return until(10_000, `${count} dead letter(s) of ${subject} in TROUPE_${name}_DLQ`, async () => {
    const entries = await deadLetterEntries(nc, name);
    return entries.filter((e) => e.originalSubject === subject).length >= count ? entries : undefined;
  });
}

/** A snapshot store whose calls can be slowed or failed, around the real KV store. */
function wrapStore(inner: SnapshotStore, hooks: { beforePut?: (key: string) => Promise<void>; beforeGet?: (key: string) => Promise<void> }): SnapshotStore {
  return {
    kind: inner.kind,
    get: async (key) => {
      await hooks.beforeGet?.(key);
      return inner.get(key);
    },
    put: async (key, value, expected) => {
      await hooks.beforePut?.(key);
      return inner.put(key, value, expected);
    },
    delete: (key) => inner.delete(key),
    keys: (prefix) => inner.keys(prefix),
    close: () => inner.close(),
  };
}

describe('durable delivery guarantee on NATS: every stored message applied exactly once to persisted state (issue 8)', () => {
  it('a handler that throws in the middle of a burst of 40: the others are applied once each, in order; the failed one is dead-lettered', async () => {
    const name = 'eo1';
    const system = await start(name);
    const restarts: RuntimeEvent[] = [];
    system.subscribe((e) => e.type === 'rt.actor.restarted' && restarts.push(e));
    const ref = system.spawn<typeof ledger>('ledger', { id: 'l', durable: true });
    const sent = ids('m', 40);
    const poisoned = [sent[17]!];
    const confirmed = await burst(ref, sent, { poisoned });
    const applied = await settledState(system, ref, 'l');
    const subject = actorSubject(name, SHARDS, `l`);
    expectExactlyOnce({ applied, stored: await storedIds(nc, name, subject), confirmed, poisoned });
    expect(restarts.length, 'the supervisor restarted the actor').toBeGreaterThanOrEqual(1);
    expectDeadLettered(await waitForDeadLetters(name, subject, 1), subject, poisoned);
    await system.shutdown();
  }, 30_000);

  it('a burst of 200 past a mailbox capacity of 5: every message applied once, in order', async () => {
    const name = 'eo2';
    const system = await start(name);
    const ref = system.spawn<typeof ledger>('ledger', { id: 'l', durable: true, mailboxCapacity: 5 });
    const sent = ids('m', 200);
    const confirmed = await burst(ref, sent);
    const applied = await settledState(system, ref, 'l');
    expectExactlyOnce({ applied, stored: await storedIds(nc, name, actorSubject(name, SHARDS, 'l')), confirmed });
    await system.shutdown();
  }, 30_000);

  it('a handler slower than ack_wait (300 ms wait, handlers blocking 400 ms): no redelivery is applied again', async () => {
    const name = 'eo3';
    const system = await start(name, { ackWaitMs: 300 });
    const ref = system.spawn<typeof ledger>('ledger', { id: 'l', durable: true });
    const sent = ids('m', 20);
    const slow = { [sent[3]!]: 400, [sent[9]!]: 400, [sent[10]!]: 400, [sent[15]!]: 400 };
    const confirmed = await burst(ref, sent, { slow });
    const applied = await settledState(system, ref, 'l', 1_500);
    expectExactlyOnce({ applied, stored: await storedIds(nc, name, actorSubject(name, SHARDS, 'l')), confirmed });
    await system.shutdown();
  }, 30_000);

  it('a store write slower than ack_wait (300 ms wait, puts delayed 500 ms): every message applied once, in order', async () => {
    const name = 'eo4';
    const conn = await connectNats({ servers: server.url });
    const inner = await createKvSnapshotStore(conn, { bucket: `troupe_${name}_snapshots` });
    const store = wrapStore(inner, { beforePut: () => sleep(500) });
    const log = await createJetStreamMailboxLog(conn, { system: name, shards: SHARDS, ackWaitMs: 300 });
    const system = await start(name, { durability: { store, log }, ackWaitMs: 300 });
    const ref = system.spawn<typeof ledger>('ledger', { id: 'l', durable: true });
    const sent = ids('m', 30);
    const confirmed: string[] = [];
    // Spread over several slow writes, so messages wait in the inbox and in the write across many ack_waits.
    for (const chunk of [sent.slice(0, 10), sent.slice(10, 20), sent.slice(20)]) {
      confirmed.push(...(await burst(ref, chunk)));
      await sleep(350);
    }
    const applied = await settledState(system, ref, 'l', 1_500);
    expectExactlyOnce({ applied, stored: await storedIds(nc, name, actorSubject(name, SHARDS, 'l')), confirmed });
    await system.shutdown();
    await conn.close();
  }, 30_000);

  it('messages arriving while a stored actor activates in a new system are applied once each, after the stored ones, in order', async () => {
    const name = 'eo5';
    const first = await start(name);
    const ref1 = first.spawn<typeof ledger>('ledger', { id: 'l', durable: true });
    const early = ids('a', 10);
    const confirmed = await burst(ref1, early);
    await within(10_000, 'ask in the first system', ref1.ask({ type: 'get' }, { timeoutMs: 9_000 }));
    // A second burst, and a shutdown while it is being handled.
    const late = ids('b', 30);
    const lateDone = burst(ref1, late);
    await sleep(5);
    const lateConfirmed = await lateDone;
    await first.shutdown();
    confirmed.push(...lateConfirmed);

    const second = await start(name);
    // The stored actor is activated by the spawn (its record exists) while these are sent.
    const ref2 = second.spawn<typeof ledger>('ledger', { id: 'l', durable: true });
    const during = ids('c', 20);
    confirmed.push(...(await burst(ref2, during)));
    const applied = await settledState(second, ref2, 'l');
    expectExactlyOnce({ applied, stored: await storedIds(nc, name, actorSubject(name, SHARDS, 'l')), confirmed });
    expect(applied.slice(0, 10), 'the state of the first system survived').toEqual(early);
    await second.shutdown();
  }, 30_000);

  it('a delivery accepted under the lease, whose actor then activates with the lease lapsed (the process stalled past it): it waits for the renewed lease, not dead-lettered', async () => {
    const name = 'eolapse';
    const LEASE_MS = 600;
    const options = { nats: { servers: server.url, shards: SHARDS, nodeLeaseMs: LEASE_MS } };
    // `l` is stored and passivated, so in the next system its first delivery activates it from its record.
    const first = await start(name, { ...options, passivateAfterMs: 50 });
    await first.recover();
    const ref1 = first.spawn<typeof ledger>('ledger', { id: 'l', durable: true });
    const confirmed = await burst(ref1, ids('a', 10));
    await within(10_000, 'ask in the first system', ref1.ask({ type: 'get' }, { timeoutMs: 9_000 }));
    await until(5_000, 'l is unloaded', () => first.durabilityStats().passivated >= 1);
    await first.shutdown();

    const logged: string[] = [];
    const second = await start(name, { ...options, passivateAfterMs: false, logLevel: 'warn', logDestination: { write: (line: string) => void logged.push(line) } });
    expect(await second.recover()).not.toContain(`${name}/l`);
    // Reads of `l`'s record stall the process (its event loop blocked, as a long GC pause or a SIGSTOP would; a
    // wait, not a spin, so the tests running beside this one keep the CPU) for longer than its lease: the delivery was accepted under a valid lease, and the activation it starts then
    // finds none by the node's own clock (a renewal counts from when it was sent). Until the node has refused an
    // activation for it (logged), at most four times.
    const refused = () => logged.some((line) => line.includes('not started here: its shard moved') && line.includes(`${name}/l`));
    const connection = (second as unknown as { transport: { connection: { request: (subject: string, ...rest: unknown[]) => unknown } } }).transport.connection;
    const request = connection.request.bind(connection);
    const recordRead = `DIRECT.GET.KV_troupe_${name}_snapshots.$KV.troupe_${name}_snapshots.${snapshotKey(`${name}/l`)}`;
    let stalls = 0;
    connection.request = (subject, ...rest) => {
      if (subject.endsWith(recordRead) && stalls < 4 && !refused()) {
        stalls++;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, LEASE_MS + 200);
      }
      return request(subject, ...rest);
    };
    const ref2 = second.lookup<typeof ledger>(`${name}/l`);
    confirmed.push(...(await burst(ref2, ids('b', 20))));
    const applied = await settledState(second, ref2, 'l');
    expect(stalls, 'the reads of the record stalled').toBeGreaterThan(0);
    // The activation was refused for the lapsed lease (the actor stopped "as moved"), and yet nothing is lost.
    expect(refused()).toBe(true);
    expectExactlyOnce({ applied, stored: await storedIds(nc, name, actorSubject(name, SHARDS, 'l')), confirmed });
    expect((await deadLetterEntries(nc, name)).filter((e) => e.originalSubject === actorSubject(name, SHARDS, 'l'))).toEqual([]);
    await second.shutdown();
  }, 30_000);

  it('a transient store error while a stored actor activates (two gets fail with RetryableError): nothing lost, nothing applied twice', async () => {
    const name = 'eo6';
    const first = await start(name);
    const ref1 = first.spawn<typeof ledger>('ledger', { id: 'l', durable: true });
    const confirmed = await burst(ref1, ids('a', 10));
    await within(10_000, 'ask in the first system', ref1.ask({ type: 'get' }, { timeoutMs: 9_000 }));
    await first.shutdown();

    const conn = await connectNats({ servers: server.url });
    const inner = await createKvSnapshotStore(conn, { bucket: `troupe_${name}_snapshots` });
    const key = snapshotKey(`${name}/l`);
    let gets = 0;
    const failed: number[] = [];
    // The recovery reads the record twice (listing, activation); the cell's own load is the third get.
    const store = wrapStore(inner, {
      beforeGet: async (k) => {
        if (k !== key) return;
        gets++;
        if (gets === 3 || gets === 4) {
          failed.push(gets);
          throw new RetryableError(`store unavailable (get ${gets})`);
        }
      },
    });
    const log = await createJetStreamMailboxLog(conn, { system: name, shards: SHARDS });
    const second = await start(name, { durability: { store, log } });
    const restored = await within(10_000, 'recover()', second.recover());
    expect(restored).toContain(`${name}/l`);
    const ref2 = second.lookup<typeof ledger>(`${name}/l`);
    confirmed.push(...(await burst(ref2, ids('b', 20))));
    const applied = await settledState(second, ref2, 'l');
    expect(failed, 'the store failed during activation').toEqual([3, 4]);
    expectExactlyOnce({ applied, stored: await storedIds(nc, name, actorSubject(name, SHARDS, 'l')), confirmed });
    await second.shutdown();
    await conn.close();
  }, 30_000);

  it('a restart with a 1.5 s backoff while messages keep arriving (ack_wait 300 ms): each applied once, not once per redelivery', async () => {
    const name = 'eo7';
    const system = await start(name, { ackWaitMs: 300, supervision: { backoff: { minMs: 1_500, maxMs: 3_000, jitter: 0 } } });
    const restarts: RuntimeEvent[] = [];
    system.subscribe((e) => e.type === 'rt.actor.restarted' && restarts.push(e));
    const ref = system.spawn<typeof ledger>('ledger', { id: 'l', durable: true });
    const sent = ids('m', 30);
    const poisoned = [sent[4]!];
    const confirmed: string[] = [];
    for (const id of sent) {
      await ref.deliver({ type: 'msg', id, ...(poisoned.includes(id) ? { poison: true } : {}) });
      confirmed.push(id);
      await sleep(60);
    }
    const applied = await settledState(system, ref, 'l', 1_500);
    const subject = actorSubject(name, SHARDS, 'l');
    expectExactlyOnce({ applied, stored: await storedIds(nc, name, subject), confirmed, poisoned });
    expect(restarts.length).toBeGreaterThanOrEqual(1);
    expectDeadLettered(await waitForDeadLetters(name, subject, 1), subject, poisoned);
    await system.shutdown();
  }, 30_000);

  it('a graceful shutdown mid-burst, then recover() in a new system: every stored message applied exactly once', async () => {
    const name = 'eo8';
    const first = await start(name);
    await first.recover(); // this node takes the shards: the spawn below starts here, not through a spawn request
    const ref1 = first.spawn<typeof ledger>('ledger', { id: 'l', durable: true });
    const sent = ids('m', 150);
    const confirmed: string[] = [];
    const deliveries = sent.map((id) => ref1.deliver({ type: 'msg', id }).then(() => void confirmed.push(id)));
    await until(10_000, '20 deliveries confirmed', () => confirmed.length >= 20, 2);
    await within(15_000, 'shutdown mid-burst', first.shutdown());
    await Promise.allSettled(deliveries); // those not stored before the shutdown reject (not sent)

    const second = await start(name);
    expect(await within(10_000, 'recover()', second.recover())).toContain(`${name}/l`);
    const ref2 = second.lookup<typeof ledger>(`${name}/l`);
    const applied = await settledState(second, ref2, 'l');
    const stored = await storedIds(nc, name, actorSubject(name, SHARDS, 'l'));
    expect(stored.length).toBeGreaterThanOrEqual(confirmed.length);
    expectExactlyOnce({ applied, stored, confirmed });
    expect(applied, 'confirmed in send order').toEqual(sent.filter((id) => stored.includes(id)));
    await second.shutdown();
  }, 30_000);

  it('a shutdown right after spawn, while the new actor is still reading the store: it is stored, and its messages are applied at the next start', async () => {
    const name = 'eo11';
    const conn = await connectNats({ servers: server.url });
    const inner = await createKvSnapshotStore(conn, { bucket: `troupe_${name}_snapshots` });
    const store = wrapStore(inner, { beforeGet: () => sleep(300) });
    const log = await createJetStreamMailboxLog(conn, { system: name, shards: SHARDS });
    const first = await start(name, { durability: { store, log } });
    const ref1 = first.spawn<typeof ledger>('ledger', { id: 'l', durable: true });
    const confirmed = await burst(ref1, ids('m', 5));
    await within(10_000, 'shutdown while the spawn reads the store', first.shutdown());
    expect((await readRecord(nc, name, 'l'))?.status, 'the spawned actor was stored before the shutdown ended').toBe('active');

    const second = await start(name);
    expect(await within(10_000, 'recover()', second.recover())).toContain(`${name}/l`);
    const ref2 = second.lookup<typeof ledger>(`${name}/l`);
    const applied = await settledState(second, ref2, 'l');
    expectExactlyOnce({ applied, stored: await storedIds(nc, name, actorSubject(name, SHARDS, 'l')), confirmed });
    await second.shutdown();
    await conn.close();
  }, 30_000);

  it('a durable workflow observed done, shut down at once, recovered in a new system: no step runs again, shutdown does not hang', async () => {
    const name = 'eo9';
    const runs = new Map<string, number>();
    const count = (key: string) => runs.set(key, (runs.get(key) ?? 0) + 1);
    const definition = workflow('three', {
      steps: ['a', 'b', 'c'].map((id) => step(id, async ({ idempotencyKey }) => {
        count(idempotencyKey);
        await sleep(20);
        return id;
      })),
    });
    const input = { workflowId: 'wf1', address: `${name}/wf1`, input: {} };
    const first = await start(name);
    first.register('three', definition, { version: 1 });
    const run = first.spawn('three', { id: 'wf1', durable: true, input });
    // result() resolves once the done record is stored (polling getSnapshot() could miss the finished actor).
    await within(10_000, 'the workflow result', run.result());
    await within(5_000, 'shutdown right after done', first.shutdown());
    expect(Object.fromEntries(runs)).toEqual({ 'wf1/a': 1, 'wf1/b': 1, 'wf1/c': 1 });
    expect((await readRecord(nc, name, 'wf1'))?.status, 'the done record was written before the shutdown ended').toBe('done');

    const second = await start(name);
    second.register('three', definition, { version: 1 });
    expect(await within(10_000, 'recover()', second.recover())).not.toContain(`${name}/wf1`);
    await sleep(1_000);
    expect(Object.fromEntries(runs), 'no step ran again').toEqual({ 'wf1/a': 1, 'wf1/b': 1, 'wf1/c': 1 });
    await within(5_000, 'second shutdown', second.shutdown());
  }, 30_000);

  it('a crash-looping durable actor across three system instances is stopped by its intensity limit (2 in 60 s) and never resurrected', async () => {
    // In-process system instances, created, recovered and shut down in turn (no child processes).
    const name = 'eo10';
    const options = { supervision: { intensity: 2, periodMs: 60_000, backoff: { minMs: 50, maxMs: 100, jitter: 0 } } };
    const subject = actorSubject(name, SHARDS, 'x');
    const sent: string[] = [];

    const first = await start(name, options);
    const ref1 = first.spawn<typeof crasher>('crasher', { id: 'x', durable: true });
    await ref1.deliver({ type: 'msg', id: 'p1' });
    sent.push('p1');
    await waitForDeadLetters(name, subject, 1);
    await until(10_000, 'a restart recorded in the record', async () => ((await readRecord(nc, name, 'x'))?.restarts?.length ?? 0) >= 1);
    await first.shutdown();

    const second = await start(name, options);
    expect(await second.recover()).toContain(`${name}/x`);
    await second.lookup<typeof crasher>(`${name}/x`).deliver({ type: 'msg', id: 'p2' });
    sent.push('p2');
    await waitForDeadLetters(name, subject, 2);
    await until(10_000, 'two restarts recorded in the record', async () => ((await readRecord(nc, name, 'x'))?.restarts?.length ?? 0) >= 2);
    await second.shutdown();

    const third = await start(name, options);
    expect(await third.recover()).toContain(`${name}/x`);
    await third.lookup<typeof crasher>(`${name}/x`).deliver({ type: 'msg', id: 'p3' });
    sent.push('p3');
    const termination = await within(10_000, 'the third failure exceeds the intensity: the root fails', third.terminated);
    expect(termination.reason).toBe('failed');
    const record = await readRecord(nc, name, 'x');
    expect(record?.status, 'the actor given up on is recorded failed').toBe('failed');
    expect((record?.snapshot as { context: { applied: string[] } }).context.applied).toEqual([]);
    expectDeadLettered(await waitForDeadLetters(name, subject, 3), subject, sent);

    const fourth = await start(name, options);
    expect(await fourth.recover(), 'recover() does not resurrect a failed actor').not.toContain(`${name}/x`);
    expect(fourth.describe(`${name}/x`)).toBeUndefined();
    expect((await readRecord(nc, name, 'x'))?.status).toBe('failed');
    await fourth.shutdown();
  }, 40_000);
});
