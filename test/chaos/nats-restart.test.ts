/**
 * Issue 4, "NATS restart mid-workflow": nats-server is stopped and started again (same port, same store dir)
 * while a worker process runs workflows — once cleanly (SIGTERM), once with SIGKILL. The worker rides out both
 * outages: every workflow completes exactly once, with exactly one effect per step, and every message delivered
 * to a durable counter during the run (before, across and after the outages) is handled exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';
import { expectEveryWorkflowOnce, Sink, until, within, Worker, type WorkerConfig } from '../fixtures/chaos.js';

const WORKFLOWS = 40;
const OUTAGE_MS = 2_000;
const DELIVERIES = 300;

let server: NatsServer;
let sink: Sink;
const workers: Worker[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  sink = await Sink.open(server.url, 'sink_restart');
});
afterAll(async () => {
  for (const worker of workers) if (worker.running) await worker.kill9();
  await sink?.close();
  await server?.cleanup();
});

describe('nats-server restarts mid-workflow (issue 4)', () => {
  it('workflows and durable messages across a stop/start and a kill -9/start of nats-server: all complete once, every message handled once', async () => {
    const config: WorkerConfig = { url: server.url, system: 'chaosrestart', sink: 'sink_restart', count: WORKFLOWS, concurrency: 4, exitWhenDone: true, deliveries: DELIVERIES };
    const worker = new Worker(config);
    workers.push(worker);
    await worker.event('ready', 20_000);

    const doneCount = async () => (await sink.summary()).done.length;
    const outage = async (how: 'stop' | 'kill9', after: number) => {
      const before = await until(30_000, `${after} workflows done before the ${how}`, async () => {
        const n = await doneCount();
        return n >= after ? n : undefined;
      });
      if (how === 'stop') await server.stop();
      else await server.kill9();
      await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
      await server.start();
      const delivered = worker.events.filter((e) => e.ev === 'delivered').length;
      console.log(`nats-server ${how} with ${before}/${WORKFLOWS} workflows done and ${delivered}/${DELIVERIES} messages delivered; down ${OUTAGE_MS} ms`);
      expect(worker.running, worker.output).toBe(true);
    };
    await outage('stop', 8);
    await outage('kill9', 20);

    const code = await within(60_000, `the worker to finish every workflow:\n${worker.output}`, worker.exited);
    expect(code, worker.output).toBe(0);
    expect(worker.events.map((e) => e.ev)).toContain('all-done');
    await expectEveryWorkflowOnce(sink, WORKFLOWS, DELIVERIES); // and every delivered message handled once
  }, 120_000);
});
