/**
 * Full inspection across nodes (issue 9) on a real nats-server: node B publishes its inspection records, node C does
 * not. An inspector on node A switches full XState inspection on for B's actor; B switches it on in what it publishes
 * (a lease the inspector renews) and A's client receives B's `@xstate.event` records through the cluster relay; `off`
 * stops them. A holder that stops renewing (a killed node) loses its lease and B switches inspection off; a closed
 * inspector's holds end at once. B's reference count holds for mixed holders: a lapsed remote lease leaves another
 * remote holder's inspection on, and a remote `off` leaves B's own inspector's on. Refusals say why: nobody runs the
 * address, or its node does not publish. B-side state is read from `b.runtimeStats().inspection`; waits are bounded,
 * durations are never asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { createSystem, inspectSubject, WIRE_VERSION, type BatchMessage, type ResyncMessage, type ServerMessage, type TroupeSystem, type WireRecord } from '../../src/index.js';
import { decode, encode } from '../../src/codec/index.js';
import { startInspector, type Inspector } from '../../inspector/index.js';
import { until } from '../fixtures/chaos.js';
import { connectInspectorClient, type InspectorClient } from '../fixtures/inspector-client.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

const SYSTEM = 'fi';
const counter = setup({ types: { context: {} as { n: number } } }).createMachine({
  context: { n: 0 },
  on: { inc: { actions: assign({ n: ({ context }) => context.n + 1 }) } },
});

let server: NatsServer;
let a: TroupeSystem;
let b: TroupeSystem;
let c: TroupeSystem;
let inspector: Inspector;

type Client = InspectorClient;
const connect = (to: Inspector): Promise<Client> => connectInspectorClient(to, 10);

const records = (client: Client, node: string): WireRecord[] => client.seen.filter((m): m is BatchMessage => m.t === 'batch' && m.node === node).flatMap((m) => m.records);
const events = (client: Client, node: string, address: string, type: string) => records(client, node).filter((r) => r.type === '@xstate.event' && r.sessionId === address && r.event.type === type).length;
const snapshotWith = (client: Client, node: string, address: string, n: number) =>
  records(client, node).some((r) => r.type === '@xstate.snapshot' && r.sessionId === address && (r.snapshot.context as { n?: number } | undefined)?.n === n);
const published = (system: TroupeSystem) => system.runtimeStats().inspection!;

/** What a node that was killed right after switching inspection on leaves behind: one `on`, then silence. */
async function ghostHold(address: string, holder: string): Promise<unknown> {
  const subject = `troupe.${SYSTEM}.ctl.inspect.${address.split('/').join('.')}`;
  return decode((await a.transport.request(subject, encode({ v: 1, op: 'on', holder, leaseMs: 300 }), { timeoutMs: 5_000 })).data);
}

beforeAll(async () => {
  server = await startNatsServer();
  const nats = { servers: server.url, shards: 2 };
  a = await createSystem({ name: SYSTEM, nodeId: 'node-a', logLevel: 'silent', nats });
  b = await createSystem({ name: SYSTEM, nodeId: 'node-b', logLevel: 'silent', nats, inspection: { publish: true, batchMs: 20 } });
  c = await createSystem({ name: SYSTEM, nodeId: 'node-c', logLevel: 'silent', nats });
  for (const system of [a, b, c]) system.register('counter', counter);
  inspector = await startInspector({ system: a, remoteInspectLeaseMs: 1_500 });
  // The relay's subscription is live once a marker from node B's connection comes through.
  const marker: BatchMessage = { t: 'batch', v: WIRE_VERSION, node: 'probe', seq: 1, now: Date.now(), counts: { produced: 1, delivered: 1, dropped: 0 }, records: [{ type: 'troupe.runtime', id: 'probe:1', node: 'probe', event: { type: 'test.marker', ts: Date.now() } }] };
  await until(10_000, 'the relay hears node B', () => {
    b.transport.publish(inspectSubject(SYSTEM, 'probe'), encode(marker));
    return (inspector.stats().cluster?.remoteBatches ?? 0) > 0;
  }, 10);
});

afterAll(async () => {
  await inspector?.close();
  await Promise.all([a?.shutdown({ timeoutMs: 2_000 }), b?.shutdown({ timeoutMs: 2_000 }), c?.shutdown({ timeoutMs: 2_000 })]);
  await server?.cleanup();
});

describe('full inspection across nodes (issue 9)', () => {
  it("an inspector on node A switches full inspection of node B's actor on: B's event records reach A's client, renewed past its lease; off stops them", async () => {
    const ref = b.spawn('counter', { id: 'remote-1' });
    const ui = await connect(inspector);
    try {
      expect(a.describe(ref.address)).toBeUndefined(); // not on node A
      expect(await ui.request({ t: 'inspect', address: ref.address, on: true })).toMatchObject({ ok: true });
      expect(published(b)).toMatchObject({ inspected: [ref.address], remoteLeases: 1 });

      ref.tell({ type: 'inc' });
      await until(10_000, "B's @xstate.event record for inc reaches A's client", () => events(ui, 'node-b', ref.address, 'inc') === 1, 10);
      expect(records(ui, 'node-b').some((r) => r.type === 'troupe.microstep' && r.sessionId === ref.address)).toBe(true);

      // A resync of node B marks the actor as inspected (B's records do not say; the inspector knows its holds).
      ui.request({ t: 'resync' }).catch(() => undefined);
      const resync = await until(10_000, "node B's resync", () => ui.seen.filter((m): m is ResyncMessage => m.t === 'resync' && m.node === 'node-b' && m.reason === 'requested').at(-1), 10);
      expect(resync.inspected).toEqual([ref.address]);

      // The inspector renews the lease (1,500 ms) while the client keeps it on: several renewals later it still holds.
      let renewals = 0;
      const watch = c.transport.subscribe(`troupe.${SYSTEM}.ctl.inspect.${ref.address.split('/').join('.')}`, (m) => {
        if (m.reply === undefined && (decode(m.data) as { op?: string }).op === 'on') renewals++;
      });
      await until(15_000, 'three renewals', () => renewals >= 3, 20);
      watch.unsubscribe();
      expect(published(b)).toMatchObject({ inspected: [ref.address], remoteLeases: 1, lapsedLeases: 0 });

      expect(await ui.request({ t: 'inspect', address: ref.address, on: false })).toMatchObject({ ok: true });
      await until(10_000, 'node B switches inspection off', () => published(b).inspected.length === 0 && published(b).remoteLeases === 0, 10);
      ref.tell({ type: 'inc' });
      // Cheap capture again: the snapshot of the second inc arrives, with no event record before it.
      await until(10_000, "B's snapshot with n = 2", () => snapshotWith(ui, 'node-b', ref.address, 2), 10);
      expect(events(ui, 'node-b', ref.address, 'inc')).toBe(1);
      expect(published(b).lapsedLeases).toBe(0); // ended by off, not by a lapse
    } finally {
      ui.close();
      await ref.stop();
    }
  });

  it('a holder that stops renewing (a killed node) loses its lease and node B switches inspection off; another holder keeps its own', async () => {
    const ref = b.spawn('counter', { id: 'remote-2' });
    const lapsedBefore = published(b).lapsedLeases;
    expect(await ghostHold(ref.address, 'node-x.ghost1')).toMatchObject({ ok: true, node: 'node-b' });
    expect(published(b)).toMatchObject({ inspected: [ref.address], remoteLeases: 1 });
    await until(10_000, "the ghost's lease lapses", () => published(b).lapsedLeases === lapsedBefore + 1, 20);
    expect(published(b)).toMatchObject({ inspected: [], remoteLeases: 0 });

    // Mixed: A's inspector (renewing) and a ghost hold the same actor; the ghost's lapse leaves A's inspection on.
    const ui = await connect(inspector);
    try {
      expect(await ui.request({ t: 'inspect', address: ref.address, on: true })).toMatchObject({ ok: true });
      expect(await ghostHold(ref.address, 'node-x.ghost2')).toMatchObject({ ok: true });
      expect(published(b).remoteLeases).toBe(2);
      await until(10_000, "the second ghost's lease lapses", () => published(b).lapsedLeases === lapsedBefore + 2, 20);
      expect(published(b)).toMatchObject({ inspected: [ref.address], remoteLeases: 1 });
      ref.tell({ type: 'inc' });
      await until(10_000, "B's event record still reaches A's client", () => events(ui, 'node-b', ref.address, 'inc') === 1, 10);
    } finally {
      ui.close();
    }
    // The client went away without saying off: its holds end with it.
    await until(10_000, 'node B switches inspection off when the client leaves', () => published(b).remoteLeases === 0 && published(b).inspected.length === 0, 10);
    await ref.stop();
  });

  it("closing node A's inspector ends its holds on node B; a remote off leaves B's own inspector's full inspection on", async () => {
    const ref = b.spawn('counter', { id: 'remote-3' });
    const local = await startInspector({ system: b, cluster: false, history: { maxRecords: 0 } });
    const second = await startInspector({ system: a, cluster: false, history: { maxRecords: 0 } });
    const onB = await connect(local);
    const onA = await connect(second);
    let closed: Promise<void> | undefined;
    const closeSecond = () => (closed ??= second.close());
    try {
      expect(await onB.request({ t: 'inspect', address: ref.address, on: true })).toMatchObject({ ok: true }); // B's own bus
      expect(await onA.request({ t: 'inspect', address: ref.address, on: true })).toMatchObject({ ok: true }); // B's published bus
      expect(published(b)).toMatchObject({ inspected: [ref.address], remoteLeases: 1 });
      await closeSecond(); // no off from the client: the inspector's close ends its holds
      await until(10_000, "node B ends node A's lease", () => published(b).remoteLeases === 0 && published(b).inspected.length === 0, 10);
      ref.tell({ type: 'inc' });
      await until(10_000, "B's own inspector still gets the event record", () => events(onB, 'node-b', ref.address, 'inc') === 1, 10);
    } finally {
      onA.close();
      onB.close();
      await closeSecond();
      await local.close();
      await ref.stop();
    }
  });

  it('refusals say why: nobody runs the address, or the node running it does not publish inspection records', async () => {
    const quiet = c.spawn('counter', { id: 'quiet' });
    const ui = await connect(inspector);
    try {
      expect(await ui.request({ t: 'inspect', address: `${SYSTEM}/nobody`, on: true })).toMatchObject({ ok: false, error: 'no actor at that address' });
      const refused = await ui.request({ t: 'inspect', address: quiet.address, on: true });
      expect(refused).toMatchObject({ ok: false });
      expect(String(refused['error'])).toContain('does not publish inspection records');
      expect(await ui.request({ t: 'inspect', address: 'not an address', on: true })).toMatchObject({ ok: false });
      // A refused switch holds nothing: off is a no-op, and a second try is refused again.
      expect(await ui.request({ t: 'inspect', address: quiet.address, on: false })).toMatchObject({ ok: true });
      expect(await ui.request({ t: 'inspect', address: quiet.address, on: true })).toMatchObject({ ok: false });
      expect(c.runtimeStats().inspection).toBeUndefined();
    } finally {
      ui.close();
      await quiet.stop();
    }
  });
});
