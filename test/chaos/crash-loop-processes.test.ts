/**
 * Issue 8, durable supervision across process restarts: a durable actor that fails on every message, hosted by a
 * process that is killed -9 after each failure and started again, is still stopped by its supervisor's intensity
 * limit (2 restarts in 60 s): the restart times travel in its persisted record. Its record ends `failed`, every
 * message that failed is in the dead-letter stream, and a fourth process does not resurrect it.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { createSystem, type TroupeSystem } from '../../src/index.js';
import { connectNats } from '../../src/transport/nats/connection-options.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';
import { until, within, Worker } from '../fixtures/chaos.js';
import { actorSubject, deadLetterEntries, readRecord } from '../fixtures/exactly-once.js';

const SCRIPT = fileURLToPath(new URL('../fixtures/crash-loop-worker.mjs', import.meta.url));
const SYSTEM = 'crashloop';

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

function boot(spawn: boolean): Worker {
  const worker = new Worker({ url: server.url, system: SYSTEM, spawn }, SCRIPT);
  workers.push(worker);
  return worker;
}

const restartsStored = async () => (await readRecord(nc, SYSTEM, 'x'))?.restarts?.length ?? 0;

describe('a crash-looping durable actor across process restarts (issue 8)', () => {
  it('three processes, each killed -9 after a failure: the third failure exceeds the intensity limit; the actor stays failed', async () => {
    sender = await createSystem({ name: SYSTEM, logLevel: 'silent', nats: { servers: server.url, shards: 2 } });
    const x = sender.lookup(`${SYSTEM}/x`);

    const first = boot(true);
    await first.event('ready', 20_000);
    await x.deliver({ type: 'msg', id: 'p1' });
    await until(15_000, 'the first restart stored in the record', async () => (await restartsStored()) >= 1);
    await first.kill9();

    const second = boot(false);
    expect((await second.event('ready', 20_000))['restored']).toEqual([`${SYSTEM}/x`]);
    await x.deliver({ type: 'msg', id: 'p2' });
    await until(15_000, 'the second restart stored in the record', async () => (await restartsStored()) >= 2);
    await second.kill9();

    const third = boot(false);
    expect((await third.event('ready', 20_000))['restored']).toEqual([`${SYSTEM}/x`]);
    await x.deliver({ type: 'msg', id: 'p3' });
    expect((await third.event('terminated', 15_000))['reason'], 'the root supervisor gave up: the limit counted all three').toBe('failed');
    expect(await within(10_000, 'the third process exits', third.exited)).toBe(6);
    expect((await readRecord(nc, SYSTEM, 'x'))?.status).toBe('failed');

    const subject = actorSubject(SYSTEM, 2, 'x');
    const dead = await until(10_000, 'three dead letters', async () => {
      const entries = (await deadLetterEntries(nc, SYSTEM)).filter((e) => e.originalSubject === subject);
      return entries.length >= 3 ? entries : undefined;
    });
    expect(dead.map((e) => e.id).sort()).toEqual(['p1', 'p2', 'p3']);
    for (const entry of dead) expect(entry.reason).toMatch(/handler failed/);

    const fourth = boot(false);
    expect((await fourth.event('ready', 20_000))['restored'], 'a failed actor is not resurrected').toEqual([]);
    expect((await readRecord(nc, SYSTEM, 'x'))?.status).toBe('failed');
    expect(await fourth.stop()).toBe(0);
  }, 90_000);
});
