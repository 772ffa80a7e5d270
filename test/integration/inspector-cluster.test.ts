/**
 * The inspector's cluster view (issue 5) on a real nats-server: two nodes of one system, each publishing its
 * inspection batches on `troupe.<system>.inspect.<node>`; the inspector on node A shows node B's actors to a
 * connected UI client (live batches and resyncs, under node B's name), refuses garbage on the inspection
 * subjects (counted, never forwarded), and does not repeat node A's own published batches.
 * Bounded waits only; counts are asserted, never durations. Ordering: NATS delivers one connection's messages
 * to a subscriber in publish order, and the server writes to one socket in order, so a marker published after
 * something on the same connection arrives after it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { assign, setup } from 'xstate';
import { createInspectionBus, createSystem, inspectSubject, publishInspection, parseBatchMessage, WIRE_VERSION, type BatchMessage, type ResyncMessage, type TroupeSystem, type WireTreeNode } from '../../src/index.js';
import { decode, encode as encodeForTest } from '../../src/codec/index.js';
import { startInspector, type Inspector } from '../../inspector/index.js';
import { connectInspectorClient, type InspectorClient } from '../fixtures/inspector-client.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

const counter = setup({ types: { context: {} as { n: number } } }).createMachine({
  context: { n: 0 },
  on: { inc: { actions: assign({ n: ({ context }) => context.n + 1 }) } },
});

const SYSTEM = 'cl';
let server: NatsServer;
let a: TroupeSystem;
let b: TroupeSystem;
let inspector: Inspector;
let client: Client;

type Client = InspectorClient;

async function connect(): Promise<Client> {
  const client = await connectInspectorClient(inspector);
  await until(() => client.seen.some((m) => m.t === 'resync'));
  return client;
}

async function until(check: () => boolean, rounds = 1_000): Promise<void> {
  for (let i = 0; i < rounds && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(check()).toBe(true);
}

const batches = (c: Client, node?: string) => c.seen.filter((m): m is BatchMessage => m.t === 'batch' && (node === undefined || m.node === node));
const resyncs = (c: Client, node: string) => c.seen.filter((m): m is ResyncMessage => m.t === 'resync' && m.node === node);

/** A valid batch from a made-up node, carrying one runtime record named `mark`. */
function markerBatch(node: string, mark: string, seq: number): BatchMessage {
  return {
    t: 'batch', v: WIRE_VERSION, node, seq, now: Date.now(), counts: { produced: seq, delivered: seq, dropped: 0 },
    records: [{ type: 'troupe.runtime', id: `${node}:${seq}`, node, event: { type: 'test.marker', mark, ts: Date.now() } }],
  };
}

let markers = 0;
/** Publishes a marker on `from`'s connection and waits until the client got it: everything `from` published before has been handled. */
async function barrier(from: TroupeSystem, c: Client): Promise<void> {
  const mark = `m${++markers}`;
  from.transport.publish(inspectSubject(SYSTEM, 'probe'), encodeForTest(markerBatch('probe', mark, markers)));
  await until(() => batches(c, 'probe').some((m) => m.records.some((r) => r.type === 'troupe.runtime' && r.event['mark'] === mark)));
}

function snapshotsOf(c: Client, node: string, address: string, n: number): number {
  let count = 0;
  for (const batch of batches(c, node)) {
    for (const r of batch.records) if (r.type === '@xstate.snapshot' && r.sessionId === address && (r.snapshot.context as { n?: number } | undefined)?.n === n) count++;
  }
  return count;
}

function findInTree(tree: WireTreeNode, address: string): WireTreeNode | undefined {
  if (tree.address === address) return tree;
  if (tree.kind === 'supervisor') for (const child of tree.children) {
    const found = findInTree(child, address);
    if (found) return found;
  }
  return undefined;
}

beforeAll(async () => {
  server = await startNatsServer();
  const nats = { servers: server.url, shards: 2 };
  a = await createSystem({ name: SYSTEM, nodeId: 'node-a', logLevel: 'silent', nats, inspection: { publish: true } });
  b = await createSystem({ name: SYSTEM, nodeId: 'node-b', logLevel: 'silent', nats, inspection: { publish: true, batchMs: 20 } });
  a.register('counter', counter);
  b.register('counter', counter);
  inspector = await startInspector({ system: a }); // cluster on by default: the transport is NATS
  client = await connect();
  // The relay's subscription is live once a marker from node B's connection comes through.
  for (let i = 0; i < 200 && (inspector.stats().cluster?.remoteBatches ?? 0) === 0; i++) {
    b.transport.publish(inspectSubject(SYSTEM, 'probe'), encodeForTest(markerBatch('probe', 'ready', ++markers)));
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  expect(inspector.stats().cluster?.remoteBatches).toBeGreaterThan(0);
});

afterAll(async () => {
  client?.close();
  await inspector?.close();
  await a?.shutdown({ timeoutMs: 2_000 });
  await b?.shutdown({ timeoutMs: 2_000 });
  await server?.cleanup();
});

describe('inspector cluster view on NATS', () => {
  test('systems expose their node id and transport', () => {
    expect(a.node).toBe('node-a');
    expect(b.node).toBe('node-b');
    expect(a.transport.kind).toBe('nats');
    expect(inspector.stats().cluster?.subject).toBe(`troupe.${SYSTEM}.inspect.*`);
  });

  test("node B's records reach a client of node A's inspector, under node B, live and in resyncs", async () => {
    const ref = b.spawn('counter', { id: 'remote-1' });
    for (let i = 0; i < 7; i++) ref.tell({ type: 'inc' });
    await until(() => snapshotsOf(client, 'node-b', 'cl/remote-1', 7) >= 1);
    expect(snapshotsOf(client, 'node-b', 'cl/remote-1', 7)).toBe(1);

    const fromB = batches(client, 'node-b');
    expect(fromB.every((m) => m.node === 'node-b' && m.v === WIRE_VERSION)).toBe(true);
    const spawned = fromB.flatMap((m) => m.records).filter((r) => r.type === 'troupe.runtime' && r.event.type === 'rt.actor.spawned' && r.event['address'] === 'cl/remote-1');
    expect(spawned).toHaveLength(1);
    expect(spawned[0]).toMatchObject({ node: 'node-b' });
    // Records of node B only ever come in batches named node B.
    for (const m of batches(client)) if (m.node !== 'node-b') expect(m.records.some((r) => 'sessionId' in r && r.sessionId === 'cl/remote-1')).toBe(false);

    // A requested resync: one message per node, node B's with its actor in its tree and its latest snapshot.
    const before = resyncs(client, 'node-b').length;
    await client.request({ t: 'resync' });
    await until(() => resyncs(client, 'node-b').length === before + 1);
    const resync = resyncs(client, 'node-b').at(-1)!;
    expect(resync).toMatchObject({ reason: 'requested', system: SYSTEM, node: 'node-b' });
    expect(findInTree(resync.tree, 'cl/remote-1')).toMatchObject({ kind: 'actor', logic: 'counter', state: 'running', status: 'active' });
    expect(resync.actors.find((x) => x.address === 'cl/remote-1')).toMatchObject({ logic: 'counter', finished: false, snapshot: { context: { n: 7 } } });
    // Node A's own resync does not list node B's actor.
    expect(findInTree(resyncs(client, 'node-a').at(-1)!.tree, 'cl/remote-1')).toBeUndefined();

    // A client connecting later gets node B's cached state in its first resyncs.
    const late = await connect();
    await until(() => resyncs(late, 'node-b').length === 1);
    expect(resyncs(late, 'node-b')[0]).toMatchObject({ reason: 'hello' });
    expect(resyncs(late, 'node-b')[0]!.actors.map((x) => x.address)).toContain('cl/remote-1');
    late.close();

    // A stop on node B: the actor leaves node B's tree and stays listed as finished.
    await ref.stop();
    await until(() => batches(client, 'node-b').some((m) => m.records.some((r) => r.type === 'troupe.runtime' && r.event.type === 'rt.actor.stopped' && r.event['address'] === 'cl/remote-1')));
    await client.request({ t: 'resync' });
    await until(() => resyncs(client, 'node-b').length === before + 2);
    const after = resyncs(client, 'node-b').at(-1)!;
    expect(findInTree(after.tree, 'cl/remote-1')).toBeUndefined();
    expect(after.actors.find((x) => x.address === 'cl/remote-1')).toMatchObject({ finished: true });

    const stats = inspector.stats();
    expect(stats.cluster!.remoteBatches).toBeGreaterThan(0);
    expect(stats.cluster!.nodes).toContain('node-b');
    expect(stats.cluster!.nodes).not.toContain('node-a');
    const channel = stats.clients.find((c) => c.id === 1)!;
    expect(channel.delivered + channel.dropped).toBe(channel.produced);
  });

  test("node A's own published batches are skipped, not shown twice", async () => {
    // What node A publishes, seen on node A's own connection (subscribed before anything is published).
    const published: BatchMessage[] = [];
    const probe = a.transport.subscribe(inspectSubject(SYSTEM, 'node-a'), (message) => {
      const parsed = parseBatchMessage(message.data, 'node-a');
      if (parsed.ok) published.push(parsed.batch);
    });
    const skippedBefore = inspector.stats().cluster!.ownSkipped;
    const ref = a.spawn('counter', { id: 'local-1' });
    for (let i = 0; i < 5; i++) ref.tell({ type: 'inc' });
    const publishedFinal = () => published.some((m) => m.records.some((r) => r.type === '@xstate.snapshot' && r.sessionId === 'cl/local-1' && (r.snapshot.context as { n: number }).n === 5));
    await until(() => snapshotsOf(client, 'node-a', 'cl/local-1', 5) >= 1 && publishedFinal());
    probe.unsubscribe();
    // A marker published after it on node A's connection: anything forwarded from node A's own publication
    // would have reached the client before the marker.
    await barrier(a, client);
    expect(inspector.stats().cluster!.ownSkipped).toBeGreaterThan(skippedBefore);
    expect(snapshotsOf(client, 'node-a', 'cl/local-1', 5)).toBe(1);
    const spawns = batches(client, 'node-a').flatMap((m) => m.records).filter((r) => r.type === 'troupe.runtime' && r.event.type === 'rt.actor.spawned' && r.event['address'] === 'cl/local-1');
    expect(spawns).toHaveLength(1);
    expect(inspector.stats().cluster!.nodes).not.toContain('node-a');
  });

  test('1,000 garbage payloads on inspection subjects are counted and dropped; none reaches the client', async () => {
    const garbageBefore = inspector.stats().cluster!.garbage;
    const seenBefore = client.seen.length;
    const valid = markerBatch('x', 'never', 1);
    const kinds: Array<(i: number) => Uint8Array> = [
      (i) => Uint8Array.from({ length: 1 + (i % 64) }, (_, j) => (i * 31 + j * 17) & 0xff), // bytes
      (i) => encodeForTest([i, 'not a map']),
      (i) => encodeForTest({ ...valid, v: 2 + (i % 5) }), // a wrong version
      (i) => encodeForTest({ ...valid, records: [{ type: 'troupe.runtime', id: String(i) }] }), // a malformed record
      (i) => encodeForTest({ ...valid, records: [{ type: 'nope', id: String(i) }] }), // an unknown record type
      (i) => encodeForTest({ ...valid, node: 'someone-else', seq: i }), // a node on another node's subject
      (i) => encodeForTest({ ...valid, records: [{ ...valid.records[0]!, event: { type: 'x', ts: 1, big: 2n ** 60n + BigInt(i) } }] }), // not JSON-safe
      () => new Uint8Array(0),
    ];
    for (let i = 0; i < 1_000; i++) b.transport.publish(inspectSubject(SYSTEM, i % 2 === 0 ? 'x' : `g${i % 7}`), kinds[i % kinds.length]!(i));
    await barrier(b, client);
    const stats = inspector.stats().cluster!;
    expect(stats.garbage - garbageBefore).toBe(1_000);
    const since = client.seen.slice(seenBefore);
    expect(since.filter((m) => m.t === 'batch' && m.node !== 'probe' && m.node !== 'node-a' && m.node !== 'node-b')).toHaveLength(0);
    expect(stats.nodes.filter((n) => n === 'x' || n.startsWith('g'))).toHaveLength(0);
  });
});

describe('publishing', () => {
  test('a batch over the message size goes out in parts; a record too big alone is dropped and counted', async () => {
    const system = await createSystem({ name: 'pub', nodeId: 'n1', logLevel: 'silent' });
    const sent: Array<{ bytes: number; batch: BatchMessage }> = [];
    const bus = createInspectionBus(system, { node: 'n1', batchMaxRecords: 1_000, batchMs: 1_000 });
    const stop = publishInspection(bus, { publish: (_subject, data) => void sent.push({ bytes: data.byteLength, batch: decode(data) as BatchMessage }) }, { maxMessageBytes: 4_096 });
    try {
      system.register('counter', setup({ types: { context: {} as { pad: string } } }).createMachine({ context: ({ input }) => ({ pad: String(input) }) }));
      for (let i = 0; i < 40; i++) system.spawn('counter', { id: `c${i}`, input: 'x'.repeat(200) });
      system.spawn('counter', { id: 'huge', input: 'x'.repeat(10_000) });
      system.spawn('counter', { id: 'after', input: 'x' }); // so the last message's counts include the drop
      bus.flush();
      expect(sent.length).toBeGreaterThan(1);
      expect(sent.every((m) => m.bytes <= 4_096)).toBe(true);
      const last = sent.at(-1)!.batch.counts;
      expect(last.dropped).toBeGreaterThan(0); // the huge actor's records
      expect(last.delivered + last.dropped).toBe(last.produced);
      expect(sent.reduce((sum, m) => sum + m.batch.records.length, 0)).toBe(last.delivered);
    } finally {
      stop();
      bus.close();
      await system.shutdown({ timeoutMs: 1_000 });
    }
  });
});

describe('the embedded default', () => {
  test('a memory transport, and no cluster view unless asked', async () => {
    const system = await createSystem({ name: 'solo', nodeId: 'n1', logLevel: 'silent' });
    const local = await startInspector({ system });
    try {
      expect(system.node).toBe('n1');
      expect(system.transport.kind).toBe('memory');
      expect(local.stats().cluster).toBeUndefined();
    } finally {
      await local.close();
      await system.shutdown({ timeoutMs: 1_000 });
    }
    await expect(createSystem({ name: 'solo', nodeId: 'bad.node', logLevel: 'silent' })).rejects.toThrow(/nodeId/);
  });
});
