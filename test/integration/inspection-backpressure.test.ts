/**
 * Inspection backpressure (issue 5): a stalled WebSocket client while the system produces inspection records
 * as fast as it can. The server's buffer for that client stays under its cap, records delivered + dropped =
 * records produced, the system loses nothing, and the client resyncs to the current state once it drains.
 * Counts and caps only: nothing here measures time.
 */
import { afterEach, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { assign, setup } from 'xstate';
import { createSystem, type BatchMessage, type ResyncMessage, type TroupeSystem } from '../../src/index.js';
import { startInspector, type Inspector } from '../../inspector/index.js';

const counter = setup({ types: { context: {} as { n: number; pad: string } } }).createMachine({
  context: { n: 0, pad: 'x'.repeat(200) },
  on: { inc: { actions: assign({ n: ({ context }) => context.n + 1 }) } },
});

const CAP = 256 * 1024;
const ACTORS = 8;
let system: TroupeSystem | undefined;
let inspector: Inspector | undefined;

afterEach(async () => {
  await inspector?.close();
  await system?.shutdown({ timeoutMs: 1_000 });
});

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

test('a stalled client: buffer under the cap, delivered + dropped = produced, resync to the current state after draining', async () => {
  system = await createSystem({ name: 'bp', logLevel: 'silent' });
  system.register('counter', counter);
  const refs = Array.from({ length: ACTORS }, (_, i) => system!.spawn('counter', { id: `c${i}`, mailboxCapacity: 100_000 }));
  inspector = await startInspector({ system, maxBufferedBytes: CAP });

  let received = 0;
  let batches = 0;
  const resyncs: ResyncMessage[] = [];
  const receivedAtResync: number[] = [];
  const client = new WebSocket(`ws://127.0.0.1:${inspector.port}/ws?token=${inspector.token}`, { origin: `http://127.0.0.1:${inspector.port}` });
  client.on('message', (data) => {
    const message = JSON.parse(data.toString()) as BatchMessage | ResyncMessage;
    if (message.t === 'batch') {
      batches++;
      received += message.records.length;
    } else if (message.t === 'resync') {
      resyncs.push(message);
      receivedAtResync.push(received);
    }
  });
  await new Promise<void>((resolve) => client.on('open', () => resolve()));
  while (resyncs.length === 0) await turn();

  // Full XState inspection on every actor: each message becomes several records that are never coalesced.
  for (const ref of refs) expect(inspector.bus.inspect(ref.address, true)).toBe(true);
  client.pause(); // the client stops reading: its socket fills, then the server's buffer

  const channel = () => inspector!.stats().clients[0]!;
  let sent = 0;
  let peak = 0;
  // Until plenty was dropped and the channel is still dropping (the client's socket is full, so it stays so).
  for (let round = 0; round < 2_000 && !(channel().dropped >= 20_000 && channel().dropping); round++) {
    for (let i = 0; i < 500; i++) refs[i % ACTORS]!.tell({ type: 'inc' });
    sent += 500;
    await turn();
    peak = Math.max(peak, channel().peakBufferedBytes);
  }
  inspector.bus.flush();
  await turn();
  const stalled = channel();
  expect(stalled.dropped).toBeGreaterThanOrEqual(20_000);
  expect(stalled.dropping).toBe(true);
  expect(stalled.peakBufferedBytes).toBeLessThanOrEqual(CAP);
  expect(peak).toBeLessThanOrEqual(CAP);
  expect(stalled.delivered + stalled.dropped).toBe(stalled.produced);

  // A slow consumer never slows the system: every message was handled.
  const total = () => refs.reduce((sum, ref) => sum + (ref.getSnapshot() as { context: { n: number } }).context.n, 0);
  while (total() < sent) await turn();
  expect(total()).toBe(sent);

  // The client drains: everything delivered arrives, then a resync with the current state.
  const resyncsBefore = resyncs.length;
  client.resume();
  while (resyncs.length === resyncsBefore) await new Promise((resolve) => setTimeout(resolve, 5));
  const drained = resyncs.at(-1)!;
  expect(drained.reason).toBe('drained');
  expect(drained.counts.produced).toBe(channel().produced);
  // Every resync (some may have gone out while the socket still took bytes) came right after what was delivered.
  resyncs.forEach((r, i) => expect(receivedAtResync[i]).toBe(r.counts.delivered));
  expect(drained.counts.delivered + drained.counts.dropped).toBe(drained.counts.produced);
  expect(drained.counts.dropped).toBeGreaterThanOrEqual(stalled.dropped);
  const state = Object.fromEntries(drained.actors.map((a) => [a.address, (a.snapshot.context as { n: number }).n]));
  for (const ref of refs) expect(state[ref.address]).toBe((ref.getSnapshot() as { context: { n: number } }).context.n);
  expect(drained.tree).toMatchObject({ kind: 'supervisor', address: 'bp', children: refs.map((r) => ({ kind: 'actor', address: r.address })) });
  expect(drained.inspected).toEqual(refs.map((r) => r.address));

  // Streaming again after the resync: the next records reach the client, and the books still balance.
  const before = received;
  refs[0]!.tell({ type: 'inc' });
  inspector.bus.flush();
  while (received === before) await new Promise((resolve) => setTimeout(resolve, 5));
  const after = channel();
  expect(after.dropping).toBe(false);
  expect(after.delivered + after.dropped).toBe(after.produced);
  expect(received).toBe(after.delivered);
  expect(after.peakBufferedBytes).toBeLessThanOrEqual(CAP);
  expect(batches).toBeGreaterThan(0);
  client.close();
}, 120_000);

test('records of one actor coalesce within a batch, events never do; nobody listening (history off) means no capture at all', async () => {
  system = await createSystem({ name: 'co', logLevel: 'silent' });
  system.register('counter', counter);
  const ref = system.spawn('counter', { id: 'c' });
  inspector = await startInspector({ system, inspection: { batchMs: 60_000 }, history: { maxRecords: 0 } });
  for (let i = 0; i < 100; i++) ref.tell({ type: 'inc' });
  await turn();
  expect(inspector.bus.stats()).toMatchObject({ captured: 0, attached: false });

  const records: BatchMessage['records'][number][] = [];
  const off = inspector.bus.subscribe({ batch: (b) => records.push(...b.records) });
  for (let i = 0; i < 100; i++) ref.tell({ type: 'inc' });
  await turn();
  inspector.bus.flush();
  expect(records.filter((r) => r.type === '@xstate.snapshot')).toHaveLength(1);
  expect(inspector.bus.stats()).toMatchObject({ captured: 100, coalesced: 99 });

  records.length = 0;
  inspector.bus.inspect(ref.address, true);
  for (let i = 0; i < 10; i++) ref.tell({ type: 'inc' });
  await turn();
  inspector.bus.flush();
  expect(records.filter((r) => r.type === '@xstate.event' && r.event.type === 'inc')).toHaveLength(10);
  expect(records.filter((r) => r.type === '@xstate.snapshot')).toHaveLength(10);
  off();
  expect(inspector.bus.stats().attached).toBe(false);
});
