/**
 * Cluster membership (issue 9, first part) on a real nats-server: nodes heartbeat in the system's nodes bucket,
 * `system.nodes()` lists the live ones, and every node reports joins and departures as `rt.cluster.member`
 * events — a shutdown at once, a node killed with SIGKILL once its lease expires. Waits are bounded; no timing
 * is asserted beyond "within a few leases".
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSystem, InvalidConfigError, type RuntimeEvent, type TroupeSystem } from '../../src/index.js';
import { until, Worker } from '../fixtures/chaos.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

const NODE = fileURLToPath(new URL('../fixtures/shard-node.mjs', import.meta.url));
const LEASE_MS = 600;

let server: NatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.cleanup();
});

type MemberEvent = Extract<RuntimeEvent, { type: 'rt.cluster.member' }>;

async function node(system: string, nodeId: string): Promise<{ system: TroupeSystem; members: MemberEvent[] }> {
  const created = await createSystem({ name: system, nodeId, logLevel: 'silent', nats: { servers: server.url, shards: 2, nodeLeaseMs: LEASE_MS } });
  const members: MemberEvent[] = [];
  created.subscribe((event) => {
    if (event.type === 'rt.cluster.member') members.push(event);
  });
  return { system: created, members };
}

describe('cluster membership (issue 9)', () => {
  it('lists the live nodes with their actors and shards; a shutdown leaves at once, a killed node when its lease expires', async () => {
    const name = 'members1';
    const a = await node(name, 'node-a');
    const killed = new Worker({ url: server.url, system: name, nodeId: 'node-k', shards: 2, nodeLeaseMs: LEASE_MS }, NODE);
    try {
      await killed.event('hosting'); // a process hosting the durable actors: it consumes both shards
      const b = await node(name, 'node-b');
      expect((await a.system.nodes()).map((n) => n.node)).toEqual(['node-a', 'node-b', 'node-k']);
      const k = await until(5_000, 'node-k heartbeats its durable counter', async () => (await b.system.nodes()).find((n) => n.node === 'node-k' && n.actors >= 1));
      expect(k).toMatchObject({ shards: [0, 1], leaseMs: LEASE_MS });
      expect(k.heartbeatAt).toBeGreaterThan(Date.now() - 5 * LEASE_MS);
      expect((await a.system.nodes()).find((n) => n.node === 'node-a')).toMatchObject({ shards: [], actors: 0 });
      await until(5_000, 'node-a sees both others join', () => ['node-b', 'node-k'].every((id) => a.members.some((e) => e.change === 'joined' && e.node === id)));

      await b.system.shutdown();
      const leftB = await until(5_000, 'node-b leaves', () => a.members.find((e) => e.change === 'left' && e.node === 'node-b'));
      expect(leftB.reason).toBe('shutdown');
      expect((await a.system.nodes()).map((n) => n.node)).toEqual(['node-a', 'node-k']);

      await killed.kill9();
      const leftK = await until(10 * LEASE_MS, 'node-k leaves when its lease expires', () => a.members.find((e) => e.change === 'left' && e.node === 'node-k'));
      expect(leftK.reason).toBe('lease-expired');
      expect((await a.system.nodes()).map((n) => n.node)).toEqual(['node-a']);
      // Each change was reported once.
      expect(a.members.map((e) => `${e.change}:${e.node}`).sort()).toEqual(['joined:node-b', 'joined:node-k', 'left:node-b', 'left:node-k']);
    } finally {
      if (killed.running) await killed.kill9();
      await a.system.shutdown();
    }
  });

  it('refuses a bad nodeLeaseMs naming the field; the embedded default lists itself', async () => {
    await expect(createSystem({ name: 'members2', logLevel: 'silent', nats: { servers: server.url, nodeLeaseMs: 10 } })).rejects.toBeInstanceOf(InvalidConfigError);
    const local = await createSystem({ name: 'members3', nodeId: 'solo', logLevel: 'silent' });
    try {
      local.spawn(local.register('counter', (await import('../fixtures/machines.js')).counterMachine), { id: 'c' });
      expect(await local.nodes()).toEqual([expect.objectContaining({ node: 'solo', actors: 1, shards: [] })]);
    } finally {
      await local.shutdown();
    }
  });
});
