/**
 * Trace context across a NATS hop between two processes (issue 12): a `client` span in one process tells an actor
 * and delivers to a durable one, both hosted by another process; that process handles both in `troupe.handle`
 * spans of the client's trace, children of the client span. Real nats-server, real OTel SDK in each process.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until, Worker } from '../fixtures/chaos.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

const NODE = fileURLToPath(new URL('../fixtures/otel-node.mjs', import.meta.url));
let server: NatsServer;
const workers: Worker[] = [];

beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  for (const worker of workers) await worker.stop().catch(() => undefined);
  await server?.cleanup();
});

describe('a trace continues across processes over NATS (issue 12)', () => {
  it('the hosting process handles a tell and a durable delivery as children of the sending process\'s span', async () => {
    const host = new Worker({ url: server.url, nodeId: 'host', mode: 'host' }, NODE);
    workers.push(host);
    await host.event('ready');
    const sender = new Worker({ url: server.url, nodeId: 'sender', mode: 'send' }, NODE);
    workers.push(sender);
    const sent = await sender.event('sent');
    const handledBy = (address: string) => () => host.events.find((e) => e.ev === 'span' && e['name'] === 'troupe.handle inc' && e['address'] === address);
    const told = await until(10_000, 'the host handles the tell', handledBy('hop/counter'));
    const delivered = await until(10_000, 'the host handles the delivery', handledBy('hop/tally'));
    for (const span of [told, delivered]) {
      expect(span['traceId']).toBe(sent['traceId']);
      expect(span['parentSpanId']).toBe(sent['spanId']);
    }
    expect(sent['pid']).not.toBe(told.pid); // two processes
  });
});
