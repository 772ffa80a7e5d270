/**
 * Group `observability` (issue 12): what OpenTelemetry costs.
 * - `tell_otel_noop_vs_off`: tell throughput with telemetry on but no SDK registered (the API's no-ops: what every
 *   user pays) over the same system with `telemetry: false`, paired rounds in one run. Goal >= 0.95.
 * - `workflow_sdk_vs_off`: ten-step workflow throughput (50 at a time) with the tracing and metrics SDKs registered
 *   (in-memory span exporter behind the batch processor, a metric reader) over `telemetry: false` under the same SDKs. Reported; goal >= 0.7.
 */
import { metrics, trace } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { assign, setup } from 'xstate';
import { reply } from '../machines/emit.js';
import { step, workflow } from '../machines/index.js';
import { createSystem } from '../src/index.js';
import { nowMs, paired, report } from './harness.js';

const counter = setup({ types: { context: {} as { count: number }, events: {} as { type: 'inc' } | { type: 'get' } } }).createMachine({
  context: { count: 0 },
  on: { inc: { actions: assign({ count: ({ context }) => context.count + 1 }) }, get: { actions: reply(({ context }) => context.count) } },
});

const MESSAGES = 200_000;
const WORKFLOWS = 2_000;
const CONCURRENCY = 50;
const STEPS = 10;

const flow = workflow('obs-bench', { steps: Array.from({ length: STEPS }, (_, i) => step(`s${i}`, async () => i)) });

async function tells(telemetry: boolean): Promise<number> {
  const system = await createSystem({ name: 'obstell', logLevel: 'silent', telemetry });
  const ref = system.spawn(system.register('counter', counter), { id: 'c', mailboxCapacity: MESSAGES + 1 });
  const start = nowMs();
  for (let i = 0; i < MESSAGES; i++) ref.tell({ type: 'inc' });
  const count = await ref.ask<number>({ type: 'get' }, { timeoutMs: 60_000 });
  const elapsed = nowMs() - start;
  if (count !== MESSAGES) throw new Error(`lost messages: ${count}`);
  await system.shutdown();
  return elapsed;
}

async function workflows(telemetry: boolean, spans: InMemorySpanExporter, flush: () => Promise<void>): Promise<number> {
  const system = await createSystem({ name: 'obswf', logLevel: 'silent', telemetry });
  system.register('flow', flow);
  let next = 0;
  const start = nowMs();
  const lane = async (): Promise<void> => {
    while (next < WORKFLOWS) {
      const id = `w${next++}`;
      await system.spawn('flow', { id }).result({ timeoutMs: 60_000 });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  const elapsed = nowMs() - start;
  await system.shutdown();
  await flush();
  if (telemetry && spans.getFinishedSpans().length < WORKFLOWS * (STEPS + 1)) throw new Error(`spans missing: ${spans.getFinishedSpans().length}`);
  spans.reset();
  return elapsed;
}

class Reader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export async function run(): Promise<void> {
  const tell = await paired({ warmup: 2, rounds: 7, baseline: () => tells(false), candidate: () => tells(true) });
  report('observability', 'tell_otel_noop_vs_off', tell.speedRatio, 'ratio');

  const spans = new InMemorySpanExporter();
  // The batch processor, as production runs it (the simple one exports span by span, for debugging).
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(spans, { maxQueueSize: 100_000, maxExportBatchSize: 2_048 })] });
  const flush = () => tracerProvider.forceFlush();
  const meterProvider = new MeterProvider({ readers: [new Reader()] });
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  try {
    const wf = await paired({ warmup: 1, rounds: 5, baseline: () => workflows(false, spans, flush), candidate: () => workflows(true, spans, flush) });
    report('observability', 'workflow_sdk_vs_off', wf.speedRatio, 'ratio');
  } finally {
    trace.disable();
    metrics.disable();
    await tracerProvider.shutdown();
    await meterProvider.shutdown();
  }
}
