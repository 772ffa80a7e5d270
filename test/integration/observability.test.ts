/**
 * The operator's endpoint (issue 12): /metrics scraped over real HTTP and parsed as Prometheus text, /healthz, and
 * /readyz following a real nats-server going away and coming back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSystem, InvalidConfigError, RetryableError, startObservability } from '../../src/index.js';
import { step, workflow } from '../../machines/index.js';
import { counterMachine } from '../fixtures/machines.js';
import { until } from '../fixtures/chaos.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

/** Prometheus text -> `name{labels}` -> value (HELP/TYPE lines checked for every family). */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const typed = new Set<string>();
  for (const line of text.trim().split('\n')) {
    if (line.startsWith('# TYPE ')) typed.add(line.split(' ')[2]!);
    if (line.startsWith('#')) continue;
    const match = /^([a-z_]+)(\{[^}]*\})? (-?[0-9.e+]+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const family = match[1]!.replace(/_(bucket|sum|count)$/, '');
    if (!typed.has(match[1]!) && !typed.has(family)) throw new Error(`sample before its TYPE: ${line}`);
    samples.set(`${match[1]}${match[2] ?? ''}`, Number(match[3]));
  }
  return samples;
}

describe('observability endpoint (issue 12)', () => {
  it('serves counters that follow what happened, health and readiness, on loopback', async () => {
    const system = await createSystem({ name: 'obs', logLevel: 'silent', supervision: { backoff: { minMs: 0, jitter: 0 } } });
    const endpoint = await startObservability(system);
    try {
      expect(new URL(endpoint.url).hostname).toBe('127.0.0.1');
      let restarted = false;
      system.subscribe((event) => void (restarted ||= event.type === 'rt.actor.restarted'));
      const counter = system.spawn(system.register('counter', counterMachine), { id: 'c' });
      counter.tell({ type: 'inc' });
      counter.tell({ type: 'crash' });
      await until(5_000, 'the counter restarts', () => restarted);
      system.lookup('obs/nobody').tell({ type: 'hello' });
      counter.tell({ type: 'nonsense' } as never);

      const response = await fetch(`${endpoint.url}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/plain');
      const samples = parseMetrics(await response.text());
      expect(samples.get('troupe_actors_spawned_total{logic="counter"}')).toBe(1);
      expect(samples.get('troupe_actor_failures_total{kind="actor-error"}')).toBe(1);
      expect(samples.get('troupe_supervisor_decisions_total{directive="restart"}')).toBe(1);
      expect(samples.get('troupe_actor_restarts_total')).toBe(1);
      expect(samples.get('troupe_dead_letters_total{reason="no-actor-at-this-address"}')).toBe(1);
      expect(samples.get('troupe_dead_letters_total{reason="unhandled-event"}')).toBeGreaterThanOrEqual(1);
      expect(samples.get('troupe_actors')).toBe(1);
      expect(samples.get('troupe_durable_writes_total')).toBe(0);
      // No actor ids in any label.
      expect([...samples.keys()].some((key) => key.includes('obs/c'))).toBe(false);

      // Steps, from the trace: a workflow whose first attempt fails and whose second succeeds.
      let tries = 0;
      const wf = workflow('obswf', { steps: [step('flaky', async () => { if (++tries === 1) throw new RetryableError('once'); return 1; }, { retry: { initialInterval: 1, maximumInterval: 1, jitter: 0 } })] });
      const run = system.spawn(system.register('obswf', wf), { id: 'w', input: { workflowId: 'w', address: 'obs/w' } });
      await run.result({ timeoutMs: 5_000 });
      const after = parseMetrics(await (await fetch(`${endpoint.url}/metrics`)).text());
      expect(after.get('troupe_step_attempts_total{step="flaky",outcome="retrying"}')).toBe(1);
      expect(after.get('troupe_step_attempts_total{step="flaky",outcome="succeeded"}')).toBe(1);
      expect(after.get('troupe_step_duration_count{step="flaky"}')).toBe(2);
      expect(after.get('troupe_step_duration_bucket{step="flaky",le="+Inf"}')).toBe(2);
      expect(after.get('troupe_step_duration_bucket{step="flaky",le="60"}')).toBe(2);
      expect(after.get('troupe_messages_handled_total{logic="counter"}')).toBeGreaterThanOrEqual(2);
      expect(after.get('troupe_mailbox_depth')).toBe(0);
      expect(after.get('troupe_cluster_shards_held')).toBe(0);

      expect((await fetch(`${endpoint.url}/healthz`)).status).toBe(200);
      expect(await (await fetch(`${endpoint.url}/readyz`)).json()).toEqual({ ready: true });
      expect((await fetch(`${endpoint.url}/nope`)).status).toBe(404);
    } finally {
      await endpoint.close();
      await system.shutdown();
    }
    await expect(startObservability(system, { port: -1 })).rejects.toBeInstanceOf(InvalidConfigError);
  });

  describe('on NATS', () => {
    let server: NatsServer;
    beforeAll(async () => {
      server = await startNatsServer();
    });
    afterAll(async () => {
      await server?.cleanup();
    });

    it('/readyz turns not-ready while nats-server is down and ready again once it is back', async () => {
      const system = await createSystem({ name: 'obsnats', logLevel: 'silent', nats: { servers: server.url, reconnectTimeWaitMs: 100 } });
      const endpoint = await startObservability(system);
      const ready = async () => (await fetch(`${endpoint.url}/readyz`)).status;
      try {
        expect(await ready()).toBe(200);
        const recovering = system.recover(); // hosting starts: not ready until its shard leases and consumers are up
        expect(system.notReadyBecause()).toBe('taking shard leases and starting durable mailbox consumers'); // what /readyz answers meanwhile
        await recovering;
        expect(await ready()).toBe(200);
        await server.stop();
        await until(10_000, '/readyz answers 503', async () => (await ready()) === 503);
        const body = await (await fetch(`${endpoint.url}/readyz`)).json() as { ready: boolean; reason: string };
        expect(body).toMatchObject({ ready: false, reason: expect.stringContaining('transport nats is') as unknown });
        expect((await fetch(`${endpoint.url}/healthz`)).status).toBe(200); // alive all the while
        await server.start();
        await until(20_000, '/readyz answers 200 again', async () => (await ready()) === 200);
      } finally {
        await endpoint.close();
        await system.shutdown({ timeoutMs: 2_000 });
      }
    });
  });
});
