/**
 * Shard leases (issue 9) on the in-memory store and transport, with a manual clock per node so a node can be paused
 * (its clock and timers stand still while the others' run): the share moves gradually and is never held twice, a
 * paused node's shards are taken over with a higher epoch and it learns it lost them when it runs again, garbage in
 * a lease key holds nothing, and a node with another shard count is refused.
 */
import { describe, expect, it } from 'vitest';
import { ShardLeases, type ShardChange } from '../../src/cluster/shard-leases.js';
import { InvalidConfigError } from '../../src/errors.js';
import { silentLogger } from '../../src/log/index.js';
import { createMemorySnapshotStore } from '../../src/persistence/memory/memory-snapshot-store.js';
import type { SnapshotStore } from '../../src/persistence/snapshot-store.js';
import { createManualClock, type ManualClock } from '../../src/system/clock.js';
import { createMemoryTransport } from '../../src/transport/memory/memory-transport.js';
import type { Transport } from '../../src/transport/transport.js';

const LEASE_MS = 900;
const SHARDS = 6;

interface TestNode {
  readonly id: string;
  readonly leases: ShardLeases;
  readonly clock: ManualClock;
  readonly changes: ShardChange[];
  readonly drained: number[];
  readonly lost: number[];
  readonly consumed: Set<number>;
  /** Every `acquired` call's shards, in order. */
  readonly acquiredCalls: number[][];
}

class Cluster {
  readonly store: SnapshotStore = createMemorySnapshotStore();
  readonly transport: Transport = createMemoryTransport();
  readonly nodes: TestNode[] = [];
  private now = 1_000_000;

  add(id: string, shards = SHARDS): TestNode {
    const clock = createManualClock(this.now);
    const node: TestNode = { id, clock, changes: [], drained: [], lost: [], consumed: new Set(), acquiredCalls: [], leases: undefined as unknown as ShardLeases };
    (node as { leases: ShardLeases }).leases = new ShardLeases({
      store: async () => this.store,
      transport: this.transport,
      system: 'sys',
      node: id,
      shards,
      leaseMs: LEASE_MS,
      clock,
      logger: silentLogger,
      // Membership, as the runtime reads it: the nodes whose heartbeat (here: clock) is within a lease of now.
      liveNodes: async () => this.nodes.filter((n) => n.clock.now() > this.now - LEASE_MS).map((n) => ({ node: n.id, token: n.leases.probeToken })),
      acquired: async (taken) => {
        node.acquiredCalls.push([...taken]);
        taken.forEach((shard) => node.consumed.add(shard));
      },
      drain: async (shard) => {
        node.drained.push(shard);
        node.consumed.delete(shard);
      },
      lost: (shard) => {
        node.lost.push(shard);
        node.consumed.delete(shard);
      },
      onChange: (change) => node.changes.push(change),
    });
    this.nodes.push(node);
    return node;
  }

  /** Moves time on every node not in `paused` by `ms`, a third of a lease at a time, letting each round finish. */
  async advance(ms: number, paused: readonly TestNode[] = []): Promise<void> {
    for (let moved = 0; moved < ms; moved += LEASE_MS / 3) {
      this.now += LEASE_MS / 3;
      for (const node of this.nodes) if (!paused.includes(node)) node.clock.advance(LEASE_MS / 3);
      await settle();
      this.expectNoShardConsumedTwice(paused);
    }
  }

  /** No shard is consumed by two running nodes (a paused one runs nothing: see `owns` once it runs again). */
  expectNoShardConsumedTwice(paused: readonly TestNode[] = []): void {
    const all = this.nodes.filter((n) => !paused.includes(n)).flatMap((n) => [...n.consumed]);
    expect(all.length).toBe(new Set(all).size);
  }
}

/** Lets the rounds' promise chains (memory store and transport answer asynchronously) run to the end. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('shard leases (issue 9)', () => {
  it('a single node takes every shard; a second takes its share gradually, each drained before release, never consumed twice', async () => {
    const cluster = new Cluster();
    const a = cluster.add('a');
    await a.leases.start();
    expect(a.leases.heldShards()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(a.changes.every((c) => c.change === 'acquired' && c.epoch === 1)).toBe(true);

    const b = cluster.add('b');
    await b.leases.start();
    expect(b.leases.heldShards()).toEqual([]); // nothing is free yet
    await cluster.advance(6 * LEASE_MS);
    expect(a.leases.heldShards().length).toBe(3);
    expect(b.leases.heldShards().length).toBe(3);
    expect([...a.consumed, ...b.consumed].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    // Every shard b took was drained by a first, and b took it one epoch later, from a release (no `from`).
    const released = a.changes.filter((c) => c.change === 'released').map((c) => c.shard);
    expect(a.drained.sort()).toEqual([...released].sort());
    expect(b.changes.filter((c) => c.change === 'acquired').map((c) => [c.shard, c.epoch, 'from' in c ? c.from : undefined]).sort()).toEqual(released.sort().map((shard) => [shard, 2, undefined]));
    // A shutdown releases: a takes b's shards at its next rounds.
    await b.leases.stop();
    b.consumed.clear();
    cluster.nodes.splice(cluster.nodes.indexOf(b), 1);
    await cluster.advance(2 * LEASE_MS);
    expect(a.leases.heldShards()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('a paused node loses its shards to the others once its lease expired (epoch + 1), and stops them when it runs again', async () => {
    const cluster = new Cluster();
    const a = cluster.add('a');
    const b = cluster.add('b');
    await a.leases.start();
    await b.leases.start();
    await cluster.advance(6 * LEASE_MS);
    const held = a.leases.heldShards();
    expect(held.length).toBe(3);

    await cluster.advance(2 * LEASE_MS, [a]); // a is paused: it answers probes (its process lives) but does not run
    expect(a.leases.owns(held[0]!)).toBe(true); // by its own clock, which stood still
    expect(b.leases.heldShards()).toEqual([0, 1, 2, 3, 4, 5]);
    const takeovers = b.changes.filter((c) => c.change === 'acquired' && 'from' in c && c.from === 'a');
    expect(takeovers.map((c) => c.shard).sort()).toEqual(held);
    expect(takeovers.every((c) => c.epoch === 2)).toBe(true);

    // a runs again: its clock jumps, so it does not count its leases valid even before its renewal is refused.
    a.clock.advance(2 * LEASE_MS - 1);
    expect(held.some((shard) => a.leases.owns(shard))).toBe(false);
    await settle();
    await cluster.advance(LEASE_MS);
    expect(a.lost.sort()).toEqual(held);
    expect(a.changes.filter((c) => c.change === 'lost').every((c) => c.change === 'lost' && c.to === 'b')).toBe(true);
    cluster.expectNoShardConsumedTwice();
  });

  it('a lease renewed after it lapsed (a node too busy to renew in time, no other node took it) hands its shards to `acquired` again', async () => {
    const cluster = new Cluster();
    const a = cluster.add('a');
    await a.leases.start();
    await cluster.advance(2 * LEASE_MS);
    expect(a.acquiredCalls.map((shards) => [...shards].sort())).toEqual([[0, 1, 2, 3, 4, 5]]); // renewals in time: taken once

    // The process stalls past its lease (its timers run late): by its own clock it holds nothing meanwhile — an
    // actor that starts or writes then finds no lease and stops — yet no one took the shards from it.
    a.clock.advance(LEASE_MS + 1);
    expect([0, 1, 2, 3, 4, 5].some((shard) => a.leases.owns(shard))).toBe(false);
    await settle();
    await cluster.advance(LEASE_MS);
    expect(a.leases.heldShards()).toEqual([0, 1, 2, 3, 4, 5]);
    expect([0, 1, 2, 3, 4, 5].every((shard) => a.leases.owns(shard))).toBe(true);
    // Its stopped actors start again from their records, as after a takeover; no shard moved, so no change either.
    expect([...new Set(a.acquiredCalls.slice(1).flat())].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(a.changes.every((c) => c.change === 'acquired' && c.epoch === 1)).toBe(true);
    expect(a.lost).toEqual([]);
  });

  it('garbage in a lease key holds nothing; a node with another shard count is refused, naming the field', async () => {
    const cluster = new Cluster();
    await cluster.store.put('shard.2', new TextEncoder().encode('{not json'), null);
    const a = cluster.add('a');
    await a.leases.start();
    expect(a.leases.heldShards()).toEqual([0, 1, 2, 3, 4, 5]);
    const other = cluster.add('x', SHARDS + 2);
    await expect(other.leases.start()).rejects.toBeInstanceOf(InvalidConfigError);
  });
});
