/**
 * Issue 9, a JetStream cluster: three nats-servers on loopback (R3 streams and buckets) under a Troupe node running
 * durable workflows and receiving durable messages. The server leading the mailbox stream is killed with SIGKILL
 * mid-run: the workflows pause while the cluster elects new leaders and then complete, each once with one effect
 * per step, and every message whose `deliver()` resolved is handled exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { expectEveryWorkflowOnce, Sink, until, within, Worker, type WorkerConfig } from '../fixtures/chaos.js';
import { startNatsCluster, type NatsCluster } from '../fixtures/nats-cluster.js';

const WORKFLOWS = 30;
const DELIVERIES = 200;

let cluster: NatsCluster;
let sink: Sink;
const workers: Worker[] = [];

beforeAll(async () => {
  cluster = await startNatsCluster(3);
  sink = await Sink.open(cluster.urls, 'sink_jscluster', 3);
}, 60_000);
afterAll(async () => {
  for (const worker of workers) if (worker.running) await worker.kill9();
  await sink?.close();
  await cluster?.cleanup();
});

describe('a three-server JetStream cluster (issue 9)', () => {
  it('kill -9 of the mailbox stream leader mid-run: workflows pause, then all complete once; every delivered message is handled once', async () => {
    const system = 'jscluster';
    const config: WorkerConfig = { url: cluster.urls, system, sink: 'sink_jscluster', count: WORKFLOWS, concurrency: 6, exitWhenDone: true, deliveries: DELIVERIES, replicas: 3 };
    const worker = new Worker(config);
    workers.push(worker);
    await worker.event('ready', 60_000);
    await until(60_000, 'a few workflows done', async () => (await sink.summary()).done.length >= 5 || undefined, 200);

    const nc = await connect({ servers: [...cluster.urls] });
    const leader = await (async () => {
      try {
        return (await (await jetstreamManager(nc)).streams.info(`TROUPE_${system}_MBOX`)).cluster?.leader;
      } finally {
        await nc.close();
      }
    })();
    const victim = cluster.servers[cluster.names.indexOf(leader ?? '')];
    expect(victim, `stream leader ${String(leader)} is one of ${cluster.names.join(', ')}`).toBeDefined();
    const before = await sink.summary();
    await victim!.kill9();
    const delivered = worker.events.filter((e) => e.ev === 'delivered').length;
    console.log(`killed the mailbox stream leader ${leader} with ${before.done.length}/${WORKFLOWS} workflows done and ${delivered}/${DELIVERIES} messages delivered`);

    const code = await within(120_000, `the worker to finish every workflow:\n${worker.output}`, worker.exited);
    expect(code, worker.output).toBe(0);
    expect(worker.events.map((e) => e.ev)).toContain('all-done');
    await expectEveryWorkflowOnce(sink, WORKFLOWS, DELIVERIES);
  }, 240_000);
});
