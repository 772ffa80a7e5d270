/**
 * One durable host per system until shard leases exist (issue 8), on a real nats-server with real processes
 * (test/fixtures/host-node.mjs, run from dist/): a second process is refused with DurableHostLockedError and the
 * first keeps running untouched; a killed holder is replaced at once; a paused holder loses the lock to a
 * contender and, once it runs again, stops hosting. Waits are bounded; timings are not asserted.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createSystem, DurableHostLockedError, type RuntimeEvent, type TroupeSystem } from '../../src/index.js';
import { until, Worker } from '../fixtures/chaos.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

const NODE = fileURLToPath(new URL('../fixtures/host-node.mjs', import.meta.url));

/** One host-node.mjs process (a chaos Worker of that script) with its command subject. */
class HostNode extends Worker {
  constructor(readonly nodeId: string, config: Record<string, unknown>) {
    super({ ...config, nodeId }, NODE);
  }

  async command<T = Record<string, unknown>>(nc: NatsConnection, op: string): Promise<T> {
    const reply = await nc.request(`hostnode.${this.nodeId}`, JSON.stringify({ op }), { timeout: 10_000 });
    const answer = reply.json<T & { error?: unknown }>();
    if (answer.error) throw new Error(`${this.nodeId} ${op}: ${JSON.stringify(answer.error)}`);
    return answer;
  }

  /** A paused node is resumed first, so it can shut down. */
  override async stop(): Promise<number | null> {
    this.signal('SIGCONT');
    return super.stop();
  }
}

let server: NatsServer;
let nc: NatsConnection;
const nodes: HostNode[] = [];
const systems: TroupeSystem[] = [];
let run = 0;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
});
afterEach(async () => {
  for (const system of systems.splice(0)) await system.shutdown({ timeoutMs: 2_000 });
  for (const node of nodes.splice(0)) if (node.running) await node.kill9();
});
afterAll(async () => {
  await nc?.close();
  await server?.cleanup();
});

function start(nodeId: string, system: string, extra: Record<string, unknown> = {}): HostNode {
  const node = new HostNode(nodeId, { url: server.url, system, ...extra });
  nodes.push(node);
  return node;
}

async function inc(node: HostNode, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await node.command(nc, 'inc');
}

const count = async (node: HostNode) => (await node.command<{ count: number }>(nc, 'get')).count;

describe('one durable host per system (issue 8)', () => {
  it('refuses a second process with DurableHostLockedError naming the holder, and the first keeps running untouched', async () => {
    const system = `hl${++run}`;
    const first = start('node-a', system);
    await first.event('hosting');
    await inc(first, 3);
    expect(await count(first)).toBe(3);

    // The second process (this one): recover() is refused with the typed error...
    const second = await createSystem({ name: system, nodeId: 'node-b', logLevel: 'silent', nats: { servers: server.url, shards: 2 } });
    systems.push(second);
    second.register('counter', (await import('../fixtures/machines.js')).counterMachine);
    const refused = await second.recover().then(() => undefined, (error: unknown) => error);
    expect(refused).toBeInstanceOf(DurableHostLockedError);
    expect(refused).toMatchObject({ code: 'TROUPE_DURABLE_HOST_LOCKED', holder: 'node-a', system });
    expect((refused as DurableHostLockedError).heartbeatAt).toBeGreaterThan(Date.now() - 10_000);
    // ...and so is a durable spawn: reported as an event, its local incarnation stopped.
    const events: RuntimeEvent[] = [];
    second.subscribe((event) => events.push(event));
    second.spawn('counter', { id: 'other', durable: true });
    const event = await until(10_000, 'rt.durable.hostLock on the second process', () => events.find((e) => e.type === 'rt.durable.hostLock'));
    expect(event).toMatchObject({ status: 'refused', node: 'node-b', holder: 'node-a' });
    await until(5_000, 'the refused durable incarnation stops', () => second.describe(`${system}/other`) === undefined);

    // The first is untouched: it still handles deliveries, its actor's state is intact, it never lost the lock.
    await inc(first, 2);
    expect(await count(first)).toBe(5);
    expect(await first.command(nc, 'state')).toEqual({ durable: [`${system}/c1`], lost: false });
    expect(first.events.some((e) => e.ev === 'host-lost')).toBe(false);
    // A process that does not host durable actors shares the system (non-durable work is unaffected).
    expect(second.spawn('counter', { id: 'plain' })).toBeDefined();
    expect(await first.stop()).toBe(0);
  });

  it('a holder killed with SIGKILL is replaced by a new process at once: the server has dropped its subscription', async () => {
    const system = `hl${++run}`;
    const first = start('node-a', system);
    await first.event('hosting');
    await inc(first, 3);
    expect(await count(first)).toBe(3);
    await first.kill9();

    const next = start('node-b', system);
    const hosting = await next.event('hosting');
    // "gone": the holder's request subject had no responders, so it did not wait for the lease to run out.
    expect(await next.event('acquired')).toMatchObject({ takeover: 'gone' });
    expect(hosting['restored']).toContain(`${system}/c1`);
    await inc(next, 1);
    expect(await count(next)).toBe(4);
    expect(await next.stop()).toBe(0);

    // A graceful stop releases the lock: the next process finds it free.
    const third = start('node-c', system);
    await third.event('hosting');
    expect(await third.event('acquired')).toMatchObject({ takeover: 'free' });
    expect(await count(third)).toBe(4);
  });

  it('a paused holder (SIGSTOP past its lease) loses the lock; after SIGCONT it stops hosting and the new holder handles every delivery', async () => {
    const system = `hl${++run}`;
    const lease = { hostLeaseMs: 1_000 };
    const first = start('node-a', system, lease);
    await first.event('hosting');
    await inc(first, 2);
    expect(await count(first)).toBe(2);

    first.signal('SIGSTOP');
    const next = start('node-b', system, lease);
    await next.event('hosting', 30_000);
    expect(await next.event('acquired')).toMatchObject({ takeover: 'stale' }); // it did not answer: judged by its heartbeat
    // Nothing is sent while the old holder is stopped: the server would hand messages to its outstanding pull
    // requests, and they would reach the new holder only after ack_wait (a known limit of a paused consumer).

    first.signal('SIGCONT');
    expect(await first.event('host-lost')).toMatchObject({ status: 'lost', holder: 'node-b' });
    expect(await first.command(nc, 'state')).toEqual({ durable: [], lost: true });
    expect(await count(next)).toBe(2);
    // Its consumers are stopped: deliveries all go to the new holder, and the old one activates nothing.
    for (let i = 0; i < 20; i++) await next.command(nc, 'inc');
    expect(await count(next)).toBe(22);
    expect(await first.command(nc, 'state')).toEqual({ durable: [], lost: true });
    expect(first.running).toBe(true); // it keeps running, without hosting
    expect(next.events.some((e) => e.ev === 'host-lost')).toBe(false);
    expect(await next.stop()).toBe(0);
    expect(await first.stop()).toBe(0);
  });
});
