/**
 * Issue 8, kill -9 and the delivery guarantee: messages with unique ids are `deliver()`ed to a durable counter
 * while the process hosting it is killed with SIGKILL at seeded points and restarted. The counter itself counts,
 * in its persisted state, how many times its handler ran for each id; the test reads that record straight from the
 * KV bucket. Exactly once on state is proven by the runtime: every confirmed id counted exactly once (lost = sent
 * minus applied, duplicated = applied more than once), nothing applied that was never sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { createSystem, type TroupeSystem } from '../../src/index.js';
import { connectNats } from '../../src/transport/nats/connection-options.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';
import { chaosSeed, seededRandom, until, within, Worker, type WorkerConfig } from '../fixtures/chaos.js';
import { readRecord } from '../fixtures/exactly-once.js';

const SYSTEM = 'chaoseo';
const MESSAGES = 400;
const KILLS = 8;
const KILL_WINDOW_MS = 700;
const SHARDS = 4;

let server: NatsServer;
let nc: NatsConnection;
let sender: TroupeSystem | undefined;
const workers: Worker[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url });
});
afterAll(async () => {
  for (const worker of workers) if (worker.running) await worker.kill9();
  await sender?.shutdown({ timeoutMs: 2_000 }).catch(() => {});
  await nc?.close();
  await server?.cleanup();
});

/** The counter's persisted per-id handler counts. */
async function persistedCounts(): Promise<Record<string, number>> {
  const record = await readRecord(nc, SYSTEM, 'tally');
  return { ...((record?.snapshot as { context?: { seen?: Record<string, number> } } | undefined)?.context?.seen ?? {}) };
}

describe('kill -9 while a durable actor is handling a stream of messages (issue 8)', () => {
  it(`${MESSAGES} messages across ${KILLS} kills: each confirmed id applied exactly once to the persisted state`, async () => {
    const seed = chaosSeed();
    console.log(`kill-exactly-once: seed ${seed} (repeat with CHAOS_SEED=${seed})`);
    const random = seededRandom(seed);
    const config: WorkerConfig = { url: server.url, system: SYSTEM, sink: 'sink_eo', count: 2, shards: SHARDS, seed, tally: true, tallyBusyMs: 5 };

    const first = new Worker(config);
    workers.push(first);
    await first.event('tally-ready', 20_000);

    // The sender is another Troupe process of the same system that hosts no durable actor: deliver() only appends
    // to the mailbox stream, so sending goes on while the host is dead.
    sender = await createSystem({ name: SYSTEM, logLevel: 'silent', nats: { servers: server.url, shards: SHARDS } });
    const ref = sender.lookup(`${SYSTEM}/tally`);
    const confirmed = new Set<number>();
    const sending = (async () => {
      for (let n = 0; n < MESSAGES; n += 8) {
        // Eight at a time, 5 ms of handling each: most kills find messages handled but not yet stored.
        const batch = Array.from({ length: 8 }, (_, i) => n + i);
        await Promise.all(batch.map((m) => ref.deliver({ type: 'inc', n: m }).then(() => void confirmed.add(m))));
        await new Promise((resolve) => setTimeout(resolve, 100)); // spread over the kills (about 5 s)
      }
    })();

    const log: string[] = [];
    let current = first;
    for (let kill = 1; kill <= KILLS; kill++) {
      const delayMs = Math.floor(random() * KILL_WINDOW_MS);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      await current.kill9();
      log.push(`kill ${kill} at +${delayMs} ms: ${confirmed.size} confirmed, ${Object.keys(await persistedCounts()).length} applied and stored`);
      current = new Worker(config);
      workers.push(current);
      await current.event('tally-ready', 20_000);
    }
    await within(60_000, 'every deliver() resolved', sending);
    console.log(log.join('\n'));

    const sent = [...confirmed].sort((a, b) => a - b);
    expect(sent, 'every deliver() resolved').toEqual(Array.from({ length: MESSAGES }, (_, n) => n));
    // The last host handles what is left; then the persisted state must not change (a late redelivery would show).
    await until(30_000, 'every confirmed id in the persisted state', async () => Object.keys(await persistedCounts()).length >= sent.length, 100);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const counts = await persistedCounts();
    const applied = new Set(Object.keys(counts).map(Number));
    const report = {
      lost: sent.filter((n) => !applied.has(n)),
      duplicated: Object.fromEntries(Object.entries(counts).filter(([, times]) => times !== 1)),
      appliedButNeverSent: [...applied].filter((n) => !confirmed.has(n)),
    };
    expect(report).toEqual({ lost: [], duplicated: {}, appliedButNeverSent: [] });
    expect(await current.stop()).toBe(0);
  }, 120_000);
});
