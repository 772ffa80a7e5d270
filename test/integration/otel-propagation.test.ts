/**
 * Trace context across actors and nodes (issue 12), with the real OpenTelemetry SDK (in-memory exporter, the async
 * hooks context manager) and a real nats-server: a tell made inside a client span is handled on another node in a
 * `troupe.handle` span of the same trace; the handler's own tell continues it on the first node; a durable
 * `deliver()` does the same through the JetStream mailbox. A log line written inside a span carries its ids.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Writable } from 'node:stream';
import { setup } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tellTo } from '../../machines/index.js';
import { createSystem, type TroupeSystem } from '../../src/index.js';
import { counterMachine } from '../fixtures/machines.js';
import { until } from '../fixtures/chaos.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();
let server: NatsServer;
let a: TroupeSystem;
let b: TroupeSystem;

/** On `ping`, tells the counter on the other node. */
const relay = setup({ types: { events: {} as { type: 'ping' } } }).createMachine({
  on: { ping: { actions: tellTo('prop/counter', () => ({ type: 'inc' as const })) } },
});

beforeAll(async () => {
  context.setGlobalContextManager(contextManager.enable());
  trace.setGlobalTracerProvider(provider);
  server = await startNatsServer();
  const node = async (nodeId: string) => {
    const system = await createSystem({ name: 'prop', nodeId, logLevel: 'silent', nats: { servers: server.url, shards: 2 } });
    system.register('counter', counterMachine, { version: 1 });
    system.register('relay', relay, { version: 1 });
    await system.recover();
    return system;
  };
  a = await node('node-a');
  b = await node('node-b');
});
afterAll(async () => {
  await Promise.all([a?.shutdown(), b?.shutdown()]);
  await server?.cleanup();
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});

const handled = (type: string, address: string) => (span: ReadableSpan) =>
  span.name === `troupe.handle ${type}` && span.attributes['troupe.actor.address'] === address;

describe('trace context across nodes (issue 12)', () => {
  it('a tell inside a span is handled on the other node in the same trace, and the handler\'s own tell continues it back', async () => {
    b.spawn('counter', { id: 'counter' });
    a.spawn('relay', { id: 'relay' });
    const tracer = trace.getTracer('test');
    const root = tracer.startActiveSpan('client', (span) => {
      b.lookup('prop/relay').tell({ type: 'ping' }); // from node B to the relay on node A
      span.end();
      return span.spanContext();
    });
    const inc = await until(10_000, 'the counter handled the relayed inc', () => exporter.getFinishedSpans().find(handled('inc', 'prop/counter')));
    const ping = exporter.getFinishedSpans().find(handled('ping', 'prop/relay'))!;
    expect(ping.spanContext().traceId).toBe(root.traceId);
    expect(ping.parentSpanContext?.spanId).toBe(root.spanId); // B -> A: the client span is the parent
    expect(inc.spanContext().traceId).toBe(root.traceId);
    expect(inc.parentSpanContext?.spanId).toBe(ping.spanContext().spanId); // A -> B: the ping's handling is the parent
    expect(inc.attributes).toMatchObject({ 'troupe.actor.logic': 'counter', 'troupe.event.type': 'inc', 'troupe.actor.incarnation': 0 });
  });

  it('a durable deliver() from a span continues the trace through the JetStream mailbox', async () => {
    const ref = a.spawn('counter', { id: 'tally', durable: true });
    await ref.ready;
    const tracer = trace.getTracer('test');
    const root = await tracer.startActiveSpan('client', async (span) => {
      await b.lookup('prop/tally').deliver({ type: 'inc' });
      span.end();
      return span.spanContext();
    });
    const inc = await until(10_000, 'the durable counter handled it', () => exporter.getFinishedSpans().find(handled('inc', 'prop/tally')));
    expect(inc.spanContext().traceId).toBe(root.traceId);
    expect(inc.parentSpanContext?.spanId).toBe(root.spanId);
  });

  it('a message sent outside any span starts no trace; with telemetry: false nothing is traced even inside one', async () => {
    const before = exporter.getFinishedSpans().length;
    b.lookup('prop/counter').tell({ type: 'inc' });
    await b.lookup('prop/counter').ask({ type: 'get' }, { timeoutMs: 5_000 });
    expect(exporter.getFinishedSpans().slice(before).filter((s) => s.attributes['troupe.actor.address'] === 'prop/counter')).toEqual([]);
    const quiet = await createSystem({ name: 'quiet', logLevel: 'silent', telemetry: false });
    const c = quiet.spawn(quiet.register('counter', counterMachine), { id: 'c' });
    trace.getTracer('test').startActiveSpan('client', (span) => (c.tell({ type: 'inc' }), span.end()));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await quiet.shutdown();
    expect(exporter.getFinishedSpans().slice(before).filter((s) => s.attributes['troupe.actor.address'] === 'quiet/c')).toEqual([]);
  });
});

describe('log lines inside a span (issue 12)', () => {
  it('carry the span\'s trace and span ids', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const destination = new Writable({ write(chunk, _encoding, done) { for (const line of String(chunk).trim().split('\n')) lines.push(JSON.parse(line) as Record<string, unknown>); done(); } });
    const system = await createSystem({ name: 'logs', logLevel: 'warn', logDestination: destination });
    try {
      const span = trace.getTracer('test').startSpan('client');
      context.with(trace.setSpan(context.active(), span), () => system.lookup('logs/nobody').tell({ type: 'hello' })); // a dead letter, logged at warn
      span.end();
      const line = await until(5_000, 'the dead letter is logged', () => lines.find((l) => l['msg'] === 'dead letter'));
      expect(line).toMatchObject({ trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId, trace_flags: '01' });
      system.lookup('logs/nobody').tell({ type: 'again' }); // outside any span: no ids
      await new Promise((resolve) => setTimeout(resolve, 1_100)); // past the dead-letter log throttle
      system.lookup('logs/nobody2').tell({ type: 'third' });
      const outside = await until(5_000, 'a line outside any span', () => lines.find((l) => l['msg'] === 'dead letter' && l['to'] === 'logs/nobody2'));
      expect(outside).not.toHaveProperty('trace_id');
    } finally {
      await system.shutdown();
    }
  });
});
