/**
 * Issue 4, "Kill -9 mid-step": a worker process runs 50 ten-step workflows (steps of 20–50 ms); it is killed
 * with SIGKILL ten times at points drawn from a seeded RNG and restarted each time. Every workflow completes
 * exactly once, and the sink holds exactly one effect per step however many attempts ran.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';
import { chaosSeed, expectedEffects, seededRandom, Sink, within, Worker, type WorkerConfig } from '../fixtures/chaos.js';

const WORKFLOWS = 50;
const KILLS = 10;
/** Kill points: this long after the restarted worker is ready (recovered), uniformly, ms. */
const KILL_WINDOW_MS = 800;

let server: NatsServer;
let sink: Sink;
const workers: Worker[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  sink = await Sink.open(server.url, 'sink_kill');
});
afterAll(async () => {
  for (const worker of workers) if (worker.running) await worker.kill9();
  await sink?.close();
  await server?.cleanup();
});

describe('kill -9 mid-step (issue 4)', () => {
  it('50 ten-step workflows survive 10 kills at seeded points: each completes once, with exactly one effect per step', async () => {
    const seed = chaosSeed();
    console.log(`kill-mid-step: seed ${seed} (repeat with CHAOS_SEED=${seed})`);
    const random = seededRandom(seed);
    // Five workflows at a time, so the run spans the kills and every kill finds steps in flight.
    const config: WorkerConfig = { url: server.url, system: 'chaoskill', sink: 'sink_kill', count: WORKFLOWS, concurrency: 5, seed, exitWhenDone: true };

    const log: string[] = [];
    for (let kill = 1; kill <= KILLS; kill++) {
      const worker = new Worker(config);
      workers.push(worker);
      await worker.event('ready', 20_000);
      const delayMs = Math.floor(random() * KILL_WINDOW_MS);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (!worker.running) {
        log.push(`kill ${kill}: worker already finished`);
        break;
      }
      await worker.kill9();
      const s = await sink.summary();
      log.push(`kill ${kill} at ready+${delayMs} ms: ${s.done.length} done, ${s.effects} effects, ${s.attempts} attempts, ${s.duplicates} duplicate attempts`);
    }
    console.log(log.join('\n'));

    const last = new Worker(config);
    workers.push(last);
    const code = await within(60_000, `last worker to finish all workflows:\n${last.output}`, last.exited);
    expect(code, last.output).toBe(0);
    expect(last.events.map((e) => e.ev)).toContain('all-done');

    const s = await sink.summary();
    console.log(`final: ${s.done.length} done, ${s.effects} effects, ${s.attempts} attempts, ${s.duplicates} duplicate attempts`);
    expect(s.errors).toEqual([]);
    expect(s.done.sort()).toEqual(Array.from({ length: WORKFLOWS }, (_, i) => `wf-${String(i).padStart(3, '0')}`));
    expect(s.effectKeys.sort()).toEqual(expectedEffects(WORKFLOWS));
    expect(s.effects).toBe(WORKFLOWS * 10);
    expect(s.attempts).toBeGreaterThanOrEqual(s.effects);
    // Every attempt either made its step's effect or found it made (or was cut short by a kill).
    expect(s.attempts).toBeGreaterThanOrEqual(s.effects + s.duplicates);
  }, 120_000);
});
