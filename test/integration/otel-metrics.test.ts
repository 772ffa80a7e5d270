/**
 * Troupe's metrics through the OpenTelemetry metrics API (issue 12): an application that registered its own SDK
 * MeterProvider before creating the system gets Troupe's instruments on it with no glue — read here through a
 * real sdk-metrics reader. Covers what is read at collection (breaker state per target, escrow items, mailbox
 * depth, messages per logic, durable counters) and what is recorded as it happens (step attempts and duration,
 * pool waits, durable write latency); `telemetry: false` switches it off.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { createSystem, type TroupeSystem } from '../../src/index.js';
import { circuitBreaker, escrow, pool, step, workflow } from '../../machines/index.js';
import { counterMachine } from '../fixtures/machines.js';
import { until } from '../fixtures/chaos.js';

class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** One collection: metric name -> its data points as `{labels JSON} -> value` (a histogram's value is its count). */
async function read(reader: TestReader): Promise<Map<string, Map<string, number>>> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  const out = new Map<string, Map<string, number>>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics as MetricData[]) {
      const points = new Map<string, number>();
      for (const point of metric.dataPoints as Array<{ attributes: Record<string, unknown>; value: number | { count: number } }>) {
        points.set(JSON.stringify(point.attributes), typeof point.value === 'number' ? point.value : point.value.count);
      }
      out.set(metric.descriptor.name, points);
    }
  }
  return out;
}

let system: TroupeSystem | undefined;
let provider: MeterProvider | undefined;
afterEach(async () => {
  await system?.shutdown({ timeoutMs: 2_000 });
  system = undefined;
  metrics.disable();
  await provider?.shutdown();
  provider = undefined;
});

describe('metrics on the application\'s OpenTelemetry MeterProvider (issue 12)', () => {
  it('a globally registered SDK receives the instruments: gauges read at collection, counters and histograms as things happen', async () => {
    const reader = new TestReader();
    provider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(provider);
    system = await createSystem({ name: 'm', logLevel: 'silent' });

    // A breaker for target crm, tripped open by failures reported to it.
    const breaker = system.spawn(system.register('breaker', circuitBreaker), { id: 'crm-breaker', input: { target: 'crm', failureThreshold: 2 } });
    system.spawn(system.register('other-breaker', circuitBreaker), { id: 'erp-breaker', input: { target: 'erp' } });
    breaker.tell({ type: 'breaker.failure' });
    breaker.tell({ type: 'breaker.failure' });
    await until(5_000, 'the breaker opens', () => breaker.getSnapshot()?.value === 'open');

    // An escrow holding one item, from a step that escalates.
    system.spawn(system.register('escrow', escrow), { id: 'escrow' });
    const review = workflow('review', { steps: [step('draft', async () => ({ confidence: 0.1 }), { minConfidence: 0.9, escalation: { tier: 'customer-facing' } })] });
    system.spawn(system.register('review', review), { id: 'r1' });
    await until(5_000, 'the item waits', async () => (await system!.escrow().list()).length === 1);

    // Two workflows share a one-slot pool: the second waits for the first.
    system.spawn(system.register('pool', pool), { id: 'gpu', input: { capacity: 1 } });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const gpuWork = (hold: boolean) => workflow('gpu-work', { steps: [step('render', async () => { if (hold) await held; return 1; }, { uses: ['m/gpu'] })] });
    const first = system.spawn(system.register('gpu-first', gpuWork(true)), { id: 'g1' });
    const second = system.spawn(system.register('gpu-second', gpuWork(false)), { id: 'g2' });
    await new Promise((resolve) => setTimeout(resolve, 30));
    release();
    await Promise.all([first.result({ timeoutMs: 5_000 }), second.result({ timeoutMs: 5_000 })]);

    // A durable counter: its writes are timed.
    const counter = system.spawn(system.register('counter', counterMachine), { id: 'c', durable: true });
    await counter.ready;
    for (let i = 0; i < 3; i++) await counter.deliver({ type: 'inc' });
    await until(5_000, 'the counter is stored', () => system!.durabilityStats().snapshotWrites >= 1);

    const seen = await read(reader);
    expect(seen.get('troupe.breaker.state')).toEqual(new Map([['{"target":"crm"}', 2], ['{"target":"erp"}', 0]]));
    expect(seen.get('troupe.escrow.items')).toEqual(new Map([['{"tier":"customer-facing","level":"operator"}', 1]]));
    expect(seen.get('troupe.escrow.outcomes')?.get('{"outcome":"queued"}')).toBe(1);
    expect(seen.get('troupe.step.attempts')?.get('{"step":"render","outcome":"succeeded"}')).toBe(2);
    expect(seen.get('troupe.step.duration')?.get('{"step":"render"}')).toBe(2);
    expect(seen.get('troupe.pool.wait')?.get('{"step":"render"}')).toBe(2); // both attempts waited for the pool (the first briefly)
    expect(seen.get('troupe.messages.handled')?.get('{"logic":"breaker"}')).toBe(2);
    expect(seen.get('troupe.mailbox.depth')?.get('{}')).toBe(0);
    expect(seen.get('troupe.durable.writes')?.get('{}')).toBeGreaterThanOrEqual(1);
    expect(seen.get('troupe.durable.write.duration')?.get('{}')).toBe(system.durabilityStats().snapshotWrites);
    expect(seen.get('troupe.actors.spawned')?.get('{"logic":"review"}')).toBe(1);
    // No label carries an actor address.
    for (const points of seen.values()) for (const labels of points.keys()) expect(labels).not.toMatch(/"m\//);
  });

  it('telemetry: false leaves the application\'s provider untouched', async () => {
    const reader = new TestReader();
    provider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(provider);
    system = await createSystem({ name: 'm', logLevel: 'silent', telemetry: false });
    system.spawn(system.register('counter', counterMachine), { id: 'c' }).tell({ type: 'inc' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const seen = await read(reader);
    expect([...seen.keys()].filter((name) => name.startsWith('troupe.'))).toEqual([]);
    await expect(createSystem({ name: 'm2', logLevel: 'silent', telemetry: 'yes' as never })).rejects.toThrow(/telemetry/);
  });
});
