/**
 * Shard leases (issue 9) on a real nats-server with real node processes (test/fixtures/shard-node.mjs, run from
 * dist/): hosting nodes share the mailbox shards, a joining node takes its share gradually, a killed node's shards
 * are taken over at once, a paused node loses its shards and handles nothing after it runs again. Delivery is
 * proven with unique message ids against each recorder's persisted list: lost = sent minus applied, duplicated =
 * applied twice. Waits are bounded; timings are not asserted.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createSystem, InvalidConfigError } from '../../src/index.js';
import { shardOf } from '../../src/persistence/mailbox-log.js';
import { until, Worker } from '../fixtures/chaos.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

const NODE = fileURLToPath(new URL('../fixtures/shard-node.mjs', import.meta.url));
const SHARDS = 4;
const COUNTERS = 8;

class ShardNode extends Worker {
  constructor(readonly nodeId: string, config: Record<string, unknown>) {
    super({ ...config, nodeId }, NODE);
  }

  async command<T = Record<string, unknown>>(op: string, extra: Record<string, unknown> = {}): Promise<T> {
    const reply = await nc.request(`shardnode.${this.nodeId}`, JSON.stringify({ op, ...extra }), { timeout: 15_000 });
    const answer = reply.json<T & { error?: unknown }>();
    if (answer.error) throw new Error(`${this.nodeId} ${op}: ${JSON.stringify(answer.error)}`);
    return answer;
  }

  /** The shards this node holds by its own events (acquired, minus released or lost since). */
  heldShards(): number[] {
    const held = new Set<number>();
    for (const e of this.events) {
      if (e.ev !== 'shard') continue;
      if (e['change'] === 'acquired') held.add(e['shard'] as number);
      else held.delete(e['shard'] as number);
    }
    return [...held].sort((x, y) => x - y);
  }

  /** Shards this node took, released and lost so far, from its events. */
  shardEvents(change: 'acquired' | 'released' | 'lost'): Record<string, unknown>[] {
    return this.events.filter((e) => e.ev === 'shard' && e['change'] === change);
  }

  override async stop(): Promise<number | null> {
    this.signal('SIGCONT');
    return super.stop();
  }
}

let server: NatsServer;
let nc: NatsConnection;
const nodes: ShardNode[] = [];
let run = 0;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
});
afterEach(async () => {
  for (const node of nodes.splice(0)) if (node.running) await node.kill9();
});
afterAll(async () => {
  await nc?.close();
  await server?.cleanup();
});

function start(nodeId: string, system: string, extra: Record<string, unknown> = {}): ShardNode {
  const node = new ShardNode(nodeId, { url: server.url, system, shards: SHARDS, counters: COUNTERS, ...extra });
  nodes.push(node);
  return node;
}

/** Sends `count` uniquely numbered adds, round robin over the recorders, through `via`; returns the ids by recorder. */
async function send(via: ShardNode, prefix: string, count: number, sent: Map<string, string[]>): Promise<void> {
  for (let i = 0; i < count; i++) {
    const id = `c${i % COUNTERS}`;
    const msg = `${prefix}${i}`;
    await via.command('add', { id, msg });
    sent.set(id, [...(sent.get(id) ?? []), msg]);
  }
}

/** Every recorder's applied ids (read through `via`) equal exactly what was sent to it: nothing lost, nothing twice. */
async function expectExactlyOnce(via: ShardNode, sent: Map<string, string[]>): Promise<void> {
  for (let i = 0; i < COUNTERS; i++) {
    const id = `c${i}`;
    const applied = (await via.command<{ ids: string[] }>('ids', { id })).ids.filter((m) => !m.startsWith('inc'));
    const expected = sent.get(id) ?? [];
    const lost = expected.filter((m) => !applied.includes(m));
    const twice = applied.filter((m, index) => applied.indexOf(m) !== index);
    expect({ id, lost, twice }).toEqual({ id, lost: [], twice: [] });
    // In the order each sender sent them (two senders' messages interleave as they were stored).
    for (const prefix of new Set(expected.map(senderOf))) {
      expect(applied.filter((m) => senderOf(m) === prefix)).toEqual(expected.filter((m) => senderOf(m) === prefix));
    }
  }
}

function senderOf(msg: string): string {
  return msg.replace(/[0-9]+$/, '');
}

async function shardsOf(node: ShardNode): Promise<number[]> {
  return (await node.command<{ shards: number[] }>('state')).shards;
}

describe('shard leases (issue 9)', () => {
  it('a joining node takes its share gradually; every message is applied once, in order, across the handover', async () => {
    const system = `sl${++run}`;
    const a = start('node-a', system);
    await a.event('hosting');
    await until(10_000, 'node-a holds every shard', async () => (await shardsOf(a)).length === SHARDS);
    const sent = new Map<string, string[]>();
    await send(a, 'before', 24, sent);

    const b = start('node-b', system);
    await b.event('hosting');
    // Sent while the shards move: through both nodes, whoever hosts the recorder.
    const during = Promise.all([send(a, 'duringA', 16, sent), send(b, 'duringB', 16, sent)]);
    const split = await until(20_000, 'the shards split two and two', async () => {
      const [ofA, ofB] = [await shardsOf(a), await shardsOf(b)];
      return ofA.length === SHARDS / 2 && ofB.length === SHARDS / 2 ? { ofA, ofB } : undefined;
    });
    await during;
    expect([...split.ofA, ...split.ofB].sort()).toEqual([0, 1, 2, 3]);
    // node-a handed shards over (drained, released), node-b took them: none was lost by anyone.
    expect(a.shardEvents('released').length).toBe(SHARDS / 2);
    expect(b.shardEvents('acquired').map((e) => e['shard']).sort()).toEqual(split.ofB);
    expect([...a.shardEvents('lost'), ...b.shardEvents('lost')]).toEqual([]);
    await send(b, 'after', 16, sent);
    await expectExactlyOnce(a, sent);
    // Each recorder runs on exactly one node.
    const [hereA, hereB] = [(await a.command<{ durable: string[] }>('state')).durable, (await b.command<{ durable: string[] }>('state')).durable];
    expect([...hereA, ...hereB].sort()).toEqual(Array.from({ length: COUNTERS }, (_, i) => `${system}/c${i}`).sort());
    expect(await a.stop()).toBe(0);
    // A shutdown releases its shards: the survivor takes them at its next round, not a lease later.
    await until(10_000, 'node-b holds every shard', async () => (await shardsOf(b)).length === SHARDS);
    await send(b, 'alone', 8, sent);
    await expectExactlyOnce(b, sent);
  });

  it("a node killed with SIGKILL: the survivor takes its shards at once (the server reports it gone) and nothing is lost", async () => {
    const system = `sl${++run}`;
    const a = start('node-a', system);
    const b = start('node-b', system);
    await Promise.all([a.event('hosting'), b.event('hosting')]);
    await until(20_000, 'the shards split', async () => (await shardsOf(a)).length === SHARDS / 2 && (await shardsOf(b)).length === SHARDS / 2);
    const sent = new Map<string, string[]>();
    await send(a, 'before', 24, sent);
    const held = await shardsOf(a);
    await a.kill9();
    await send(b, 'after', 24, sent); // stored at once; applied when node-b hosts their recorders
    const takenOver = await until(10_000, "node-b takes node-a's shards", () => {
      const taken = b.shardEvents('acquired').filter((e) => e['from'] === 'node-a').map((e) => e['shard'] as number);
      return taken.length === held.length ? taken.sort() : undefined;
    });
    expect(takenOver).toEqual(held);
    await expectExactlyOnce(b, sent);
  });

  it('a paused node (SIGSTOP past its lease) loses its shards; after SIGCONT it handles nothing and writes nothing', async () => {
    const system = `sl${++run}`;
    const lease = { nodeLeaseMs: 900 };
    const a = start('node-a', system, lease);
    await a.event('hosting');
    const b = start('node-b', system, lease);
    await b.event('hosting');
    await until(20_000, 'the shards split', async () => (await shardsOf(a)).length === SHARDS / 2 && (await shardsOf(b)).length === SHARDS / 2);
    const sent = new Map<string, string[]>();
    await send(b, 'before', 16, sent);
    const held = await shardsOf(a);

    a.signal('SIGSTOP');
    await until(15_000, "node-b takes the paused node's shards once its lease expired", () =>
      b.shardEvents('acquired').filter((e) => e['from'] === 'node-a').length === held.length || undefined);
    // Sent while node-a is stopped: the server may still hand some to node-a's outstanding pull requests (a pull
    // lives 5 s), where they wait until it runs again and gives them back, or until ack_wait.
    await send(b, 'paused', 16, sent);

    a.signal('SIGCONT');
    await until(10_000, 'node-a learns it lost every shard', () => a.shardEvents('lost').length === held.length || undefined);
    expect(a.shardEvents('lost').every((e) => e['to'] === 'node-b')).toBe(true);
    // node-a stops the recorders of the shards it lost (it may take some shards back at once as the share rebalances:
    // those it runs again, under new epochs).
    const strays = async () => (await a.command<{ durable: string[] }>('state')).durable.filter((address) => !a.heldShards().includes(shardOf(address, SHARDS)));
    await until(10_000, 'node-a stops the recorders of the shards it lost', async () => (await strays()).length === 0).catch((error: Error) => {
      throw new Error(`${error.message}\nnode-a's log:\n${a.output}`);
    });
    await expectExactlyOnce(b, sent);
    // Deliveries made through the old node go to the shards' owner; the old node activates nothing.
    await send(a, 'resumed', 16, sent);
    await expectExactlyOnce(b, sent);
    // Whatever node-a runs now is on a shard it took again since (rebalancing gives it its share back).
    expect(await strays()).toEqual([]);
    expect(b.shardEvents('lost')).toEqual([]);
    // node-a then takes its share again, under new epochs: the shards are shared once more, still exactly once.
    await until(20_000, 'the shards split again', async () => (await shardsOf(a)).length === SHARDS / 2 && (await shardsOf(b)).length === SHARDS / 2);
    await send(a, 'again', 16, sent);
    await expectExactlyOnce(a, sent);
  });

  it('a client node (hostsDurable: false) takes no shard; its durable spawn runs on the hosting node', async () => {
    const system = `sl${++run}`;
    const a = start('node-a', system);
    await a.event('hosting');
    const client = await createSystem({ name: system, nodeId: 'client', logLevel: 'silent', nats: { servers: server.url, shards: SHARDS, hostsDurable: false } });
    try {
      client.register('counter', (await import('../fixtures/machines.js')).counterMachine, { version: 1 });
      client.spawn('counter', { id: 'spawned-by-client', durable: true });
      await client.recover(); // a client node: restores nothing, takes nothing
      await client.lookup(`${system}/spawned-by-client`).deliver({ type: 'inc' });
      expect(await client.lookup(`${system}/spawned-by-client`).ask({ type: 'get' }, { timeoutMs: 10_000 })).toBe(1);
      await until(5_000, 'the client is listed', async () => (await client.nodes()).some((n) => n.node === 'client'));
      expect((await client.nodes()).find((n) => n.node === 'client')).toMatchObject({ hosting: false, shards: [] });
      expect((await a.command<{ durable: string[] }>('state')).durable).toContain(`${system}/spawned-by-client`);
      await until(10_000, 'node-a holds every shard', async () => (await shardsOf(a)).length === SHARDS);
    } finally {
      await client.shutdown();
    }
  });

  it('refuses a node started with another shard count, naming the field; a node naming none adopts the system\'s', async () => {
    const system = `sl${++run}`;
    const a = start('node-a', system);
    await a.event('hosting');
    const refused = await createSystem({ name: system, nodeId: 'node-x', logLevel: 'silent', nats: { servers: server.url, shards: SHARDS + 1 } }).then(
      async (other) => (await other.shutdown(), undefined),
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(InvalidConfigError);
    expect((refused as InvalidConfigError).message).toContain(`created with ${SHARDS} shards`);
    // A client naming no shard count (the CLI) places its messages by the system's: they reach their actors.
    const client = await createSystem({ name: system, nodeId: 'client', logLevel: 'silent', nats: { servers: server.url, hostsDurable: false } });
    try {
      await client.lookup(`${system}/c3`).deliver({ type: 'add', id: 'from-client' });
      expect(await client.lookup(`${system}/c3`).ask({ type: 'ids' }, { timeoutMs: 10_000 })).toEqual(['from-client']);
    } finally {
      await client.shutdown();
    }
  });
});
