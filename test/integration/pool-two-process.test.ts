/**
 * One pool shared by two node processes on a real nats-server (issue 11): a durable one-slot pool hosted by one of
 * them, and workflows on both whose step uses it. Every workflow completes once, and the slot is never held by two
 * attempts at once — checked on the holding intervals both processes report (one machine, one clock). The second
 * node joining moves the pool's shard while the runs go on: a release relayed at-most-once to the old host was
 * lost there, and the slot came back only when its lease ran out (the pool's lease, 60 s, outlasts the test).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from '../fixtures/chaos.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

const NODE = fileURLToPath(new URL('../fixtures/pool-node.mjs', import.meta.url));
const COUNT = 4;
let server: NatsServer;
const workers: Worker[] = [];

beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  for (const worker of workers) if (worker.running) await worker.kill9();
  await server?.cleanup();
});

describe('a pool shared by two processes (issue 11)', () => {
  it('serves both, one holder at a time, every workflow once', async () => {
    const goFile = join(mkdtempSync(join(tmpdir(), 'troupe-pool-')), 'go');
    const common = { url: server.url, count: COUNT, holdMs: 80, goFile };
    const a = new Worker({ ...common, nodeId: 'node-a', spawnPool: true }, NODE);
    workers.push(a);
    await a.event('ready', 30_000);
    const b = new Worker({ ...common, nodeId: 'node-b', spawnPool: false }, NODE);
    workers.push(b);
    await b.event('ready', 30_000);
    writeFileSync(goFile, 'go');

    // Both finish well within the pool's 60 s lease: no slot comes back by expiry, each by its release.
    const [doneA, doneB] = await Promise.all([a.event('done', 30_000), b.event('done', 30_000)]);
    writeFileSync(`${goFile}.stop`, 'stop');
    const completed = [...(doneA['completed'] as string[]), ...(doneB['completed'] as string[])].sort();
    const expected = ['node-a', 'node-b'].flatMap((n) => Array.from({ length: COUNT }, (_, i) => `${n}-${i}`)).sort();
    expect([doneA['failed'], doneB['failed']]).toEqual([[], []]);
    expect(completed).toEqual(expected);

    const held = [...a.events, ...b.events].filter((e) => e.ev === 'held').map((e) => ({ wf: e['wf'] as string, from: e['from'] as number, to: e['to'] as number, pid: e.pid }));
    expect(held.map((h) => h.wf).sort()).toEqual(expected); // each ran once
    expect(new Set(held.map((h) => h.pid)).size).toBe(2); // both processes ran work
    held.sort((x, y) => x.from - y.from);
    for (let i = 1; i < held.length; i++) expect(held[i]!.from, `${held[i]!.wf} started while ${held[i - 1]!.wf} held the slot`).toBeGreaterThanOrEqual(held[i - 1]!.to);
    await Promise.all([a.stop(), b.stop()]);
  }, 90_000);
});
