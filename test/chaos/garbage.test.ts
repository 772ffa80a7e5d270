/**
 * Issue 4, "Garbage on subjects": 10,000 random payloads published through JetStream to mailbox subjects while a
 * worker process runs real workflows. Every one is rejected to the dead-letter stream with a reason and acked
 * (no redelivery loop), the node stays up, and the workflows complete.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { encode, ENVELOPE_VERSION } from '../../src/codec/index.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';
import { chaosSeed, expectedEffects, seededRandom, Sink, until, Worker, type WorkerConfig } from '../fixtures/chaos.js';

const SYSTEM = 'chaosgarbage';
const SHARDS = 4;
const GARBAGE = 10_000;
const WORKFLOWS = 20;

let server: NatsServer;
let nc: NatsConnection;
let sink: Sink;
const workers: Worker[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  sink = await Sink.open(server.url, 'sink_garbage');
});
afterAll(async () => {
  for (const worker of workers) if (worker.running) await worker.kill9();
  await sink?.close();
  await nc?.close();
  await server?.cleanup();
});

/** Random messages on mailbox subjects, each (subject, bytes) pair distinct: the dead-letter stream dedupes on them. */
function garbage(random: () => number, count: number): { subject: string; data: Uint8Array; kind: string }[] {
  const int = (n: number) => Math.floor(random() * n);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  const token = () => ['junk', 'a$b', 'x-1', '_', 'ÿÿ', 'wf-999', `n${int(1e6)}`][int(7)]!;
  const real = () => `wf-${String(int(WORKFLOWS)).padStart(3, '0')}`;
  const envelope = (to: string, extra: Record<string, unknown> = {}) => ({
    v: ENVELOPE_VERSION, id: `garbage.${int(1e9)}`, to, type: 'junk.event', payload: { type: 'junk.event', n: int(1e9) }, ts: Date.now(), ...extra,
  });
  const out: { subject: string; data: Uint8Array; kind: string }[] = [];
  const seen = new Set<string>();
  while (out.length < count) {
    const shard = int(SHARDS);
    const tokens = random() < 0.5 ? [real()] : Array.from({ length: 1 + int(3) }, token);
    const address = `${SYSTEM}/${tokens.join('/')}`;
    const subject = `troupe.${SYSTEM}.mbox.${shard}.${SYSTEM}.${tokens.join('.')}`;
    const kinds: [string, () => Uint8Array][] = [
      ['random bytes', () => bytes(1 + int(256))],
      ['not an envelope', () => encode([int(1e6), 'x'.repeat(int(50)), { a: random() }][int(3)])],
      ['wrong envelope version', () => encode(envelope(address, { v: 2 + int(100) }))],
      ['envelope for another address', () => encode(envelope(`${SYSTEM}/elsewhere-${int(1e6)}`))],
      ['payload not its type', () => encode(envelope(address, { payload: { type: 'other', n: int(1e9) } }))],
      ['unknown event type or actor', () => encode(envelope(address))],
      ['truncated envelope', () => encode(envelope(address)).subarray(0, 5 + int(20))],
    ];
    const [kind, make] = kinds[int(kinds.length)]!;
    const data = make();
    const key = `${subject}\0${Buffer.from(data).toString('hex')}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ subject, data, kind });
  }
  return out;
}

async function streamMessages(jsm: JetStreamManager, stream: string): Promise<number> {
  return (await jsm.streams.info(stream)).state.messages;
}

describe('garbage on mailbox subjects (issue 4)', () => {
  it('10,000 random payloads all land in the dead-letter stream, acked once; the node stays up and real workflows complete', async () => {
    const seed = chaosSeed();
    console.log(`garbage: seed ${seed} (repeat with CHAOS_SEED=${seed})`);
    const config: WorkerConfig = { url: server.url, system: SYSTEM, sink: 'sink_garbage', count: WORKFLOWS, concurrency: 5, shards: SHARDS, seed };
    const worker = new Worker(config);
    workers.push(worker);
    await worker.event('ready', 20_000);

    const messages = garbage(seededRandom(seed), GARBAGE);
    const kinds = new Map<string, number>();
    for (const m of messages) kinds.set(m.kind, (kinds.get(m.kind) ?? 0) + 1);
    console.log([...kinds].map(([k, n]) => `${k}: ${n}`).join(', '));
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    // Published through JetStream (so the mailbox stream captures them), 256 acks in flight at a time.
    for (let i = 0; i < messages.length; i += 256) {
      await Promise.all(messages.slice(i, i + 256).map((m) => js.publish(m.subject, m.data)));
    }

    const dlq = `TROUPE_${SYSTEM}_DLQ`;
    const consumers = () => Promise.all(Array.from({ length: SHARDS }, (_, shard) => jsm.consumers.info(`TROUPE_${SYSTEM}_MBOX`, `mbox-${shard}`)));
    const state = async () => `${await streamMessages(jsm, dlq)} in ${dlq}; consumers ${JSON.stringify((await consumers()).map((c) => [c.num_pending, c.num_ack_pending, c.num_redelivered]))}`;
    const started = Date.now();
    try {
      await until(60_000, `${GARBAGE} entries in ${dlq}`, async () => (await streamMessages(jsm, dlq)) >= GARBAGE, 250);
    } catch (error) {
      throw new Error(`${(error as Error).message}: ${await state()}\n${worker.output}`);
    }
    console.log(`${GARBAGE} dead letters in ${Date.now() - started} ms`);
    await until(60_000, `${WORKFLOWS} workflows done`, async () => (await sink.summary()).done.length === WORKFLOWS, 250);
    // Every delivery settled: nothing pending or waiting for an ack on any shard (no redelivery loop).
    await until(30_000, 'every shard consumer fully acked', async () => {
      const infos = await consumers();
      return infos.every((info) => info.num_pending === 0 && info.num_ack_pending === 0) ? true : undefined;
    }, 250);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await streamMessages(jsm, dlq)).toBe(GARBAGE);
    expect(worker.running, worker.output).toBe(true);

    // Each entry keeps the original subject and says why it was rejected.
    for (const seq of [1, 2, 3, GARBAGE]) {
      const entry = (await jsm.streams.getMessage(dlq, { seq }))!;
      expect(entry.header.get('Troupe-Original-Subject')).toMatch(new RegExp(`^troupe\\.${SYSTEM}\\.mbox\\.`));
      expect(entry.header.get('Troupe-Reason')).not.toBe('');
    }
    const s = await sink.summary();
    expect(s.errors).toEqual([]);
    expect(s.effectKeys.sort()).toEqual(expectedEffects(WORKFLOWS));
    expect(await worker.stop(), worker.output).toBe(0);
  }, 120_000);
});
