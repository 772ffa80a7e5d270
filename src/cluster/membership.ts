/**
 * Cluster membership (issue 9, its first part): which nodes of a system are alive. Each node heartbeats its own key
 * `node.<nodeId>` in the system's nodes bucket (`troupe_<system>_nodes`, beside the shard leases) every third of
 * its lease, and deletes it when it shuts down. nats-server 2.9 ignores per-key TTLs, so liveness compares the
 * stored wall-clock heartbeat with the reader's clock: a node whose heartbeat is older than its lease is gone (the
 * hosts' clocks are assumed in sync to well within a lease, as for the shard leases).
 *
 * Every node also watches the others by reading the bucket on its own heartbeat, and reports each change once —
 * a node that joined, one that left by shutting down, one whose lease expired (killed, paused, cut off) — to
 * `onChange` (the runtime publishes them as `rt.cluster.member` events).
 */
import { toPlainError } from '../errors.js';
import { resolveLeaseMs } from './lease-ms.js';
import type { Logger } from '../log/index.js';
import type { SnapshotStore } from '../persistence/snapshot-store.js';
import type { Clock, TimerHandle } from '../system/clock.js';

export const DEFAULT_NODE_LEASE_MS = 3_000;
/** Node keys are `node.<nodeId>`: the `node` token is the listing prefix (prefixes are whole tokens). */
const PREFIX_TOKEN = 'node';
const PREFIX = `${PREFIX_TOKEN}.`;

/** A live node of the system, as `system.nodes()` lists it. */
export interface NodeInfo {
  readonly node: string;
  readonly pid: number;
  readonly host: string;
  readonly startedAt: number;
  /** Its last heartbeat, wall-clock ms. */
  readonly heartbeatAt: number;
  /** How long it counts as alive without a heartbeat, ms. */
  readonly leaseMs: number;
  /** Actors it runs (supervisors not counted), at its last heartbeat. */
  readonly actors: number;
  /** Mailbox shards it consumes: the shards whose leases it holds (shard-leases.ts). */
  readonly shards: readonly number[];
  /** Whether it takes a share of the shards (it hosts durable actors: a durable spawn or `recover()` started it). */
  readonly hosting: boolean;
  /** The token its process answers shard lease probes for, while hosting (shard-leases.ts). */
  readonly leaseToken?: string;
}

export type MembershipChange =
  | { readonly change: 'joined'; readonly node: string }
  | { readonly change: 'left'; readonly node: string; readonly reason: 'shutdown' | 'lease-expired' };

export interface MembershipOptions {
  readonly store: () => Promise<SnapshotStore>;
  readonly node: string;
  readonly leaseMs: number;
  /** Wall-clock time and timers (systemClock in the runtime: liveness is judged across processes). */
  readonly clock: Clock;
  readonly logger: Logger;
  readonly pid: number;
  readonly host: string;
  /** What this node runs now, written with each heartbeat. */
  readonly load: () => { readonly actors: number; readonly shards: readonly number[]; readonly hosting: boolean; readonly leaseToken?: string | undefined };
  readonly onChange: (change: MembershipChange) => void;
}

/** Checks `nats.nodeLeaseMs`; returns the lease to use. */
export function resolveNodeLeaseMs(value: unknown): number {
  return resolveLeaseMs('nats.nodeLeaseMs', value, DEFAULT_NODE_LEASE_MS);
}

export class Membership {
  private store: SnapshotStore | undefined;
  private timer: TimerHandle | undefined;
  private readonly startedAt: number;
  /** The nodes seen alive at the last look (this one included), by id. */
  private known = new Map<string, NodeInfo>();
  private stopped = false;
  private beating: Promise<void> | undefined;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();

  constructor(private readonly o: MembershipOptions) {
    this.startedAt = o.clock.now();
  }

  /** Writes a heartbeat now (what this node runs changed: it began hosting), outside the regular beat. */
  beatNow(): Promise<void> {
    // Calls made while one waits share it (a node taking several shards at once beats once).
    return (this.pendingBeat ??= (async () => {
      await this.beating;
      this.pendingBeat = undefined;
      await this.beat();
    })());
  }

  private pendingBeat: Promise<void> | undefined;

  /** Writes the first heartbeat (so `nodes()` on any node lists this one as soon as this resolves), then keeps beating. */
  async start(): Promise<void> {
    this.store = await this.o.store();
    await this.beat();
    this.schedule();
  }

  /** The live nodes, by id: fresh from the bucket. */
  async nodes(): Promise<NodeInfo[]> {
    const now = this.o.clock.now();
    return (await this.scan()).filter((info) => alive(info, now));
  }

  /** Every node record in the bucket, live or stale, by id. */
  private async scan(): Promise<NodeInfo[]> {
    const store = this.store ?? (this.store = await this.o.store());
    const nodes: NodeInfo[] = [];
    for (const key of await store.keys(PREFIX_TOKEN)) {
      if (!key.startsWith(PREFIX)) continue;
      const info = await this.read(store, key);
      if (info !== undefined) nodes.push(info);
    }
    return nodes.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  }

  /** Stops beating and removes this node's key, so the others see it leave at once (not a lease later). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    await this.beating;
    await this.store?.delete(PREFIX + this.o.node).catch((error: unknown) => {
      this.o.logger.warn({ err: toPlainError(error) }, 'could not remove this node from the nodes bucket; it expires with its lease');
    });
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.o.clock.setTimeout(() => {
      this.beating = this.beat().finally(() => this.schedule());
    }, Math.max(1, Math.floor(this.o.leaseMs / 3)));
  }

  /** Writes this node's heartbeat, then compares the live nodes with the last look. Never throws (logged). */
  private async beat(): Promise<void> {
    const store = this.store;
    if (store === undefined || this.stopped) return;
    try {
      const load = this.o.load();
      const self: NodeInfo = {
        node: this.o.node, pid: this.o.pid, host: this.o.host, startedAt: this.startedAt, heartbeatAt: this.o.clock.now(),
        leaseMs: this.o.leaseMs, actors: load.actors, shards: load.shards, hosting: load.hosting,
        ...(load.leaseToken === undefined ? {} : { leaseToken: load.leaseToken }),
      };
      await store.put(PREFIX + this.o.node, this.encoder.encode(JSON.stringify(self)));
      if (this.stopped) return;
      this.compare(await this.scan());
    } catch (error) {
      // NATS unreachable: the others cannot see anything either; the next beat tries again.
      this.o.logger.warn({ err: toPlainError(error) }, 'node heartbeat failed');
    }
  }

  private compare(records: readonly NodeInfo[]): void {
    const now = this.o.clock.now();
    const stale = new Set(records.filter((n) => !alive(n, now)).map((n) => n.node));
    const next = new Map(records.filter((n) => !stale.has(n.node)).map((n) => [n.node, n]));
    for (const [node] of next) if (!this.known.has(node) && node !== this.o.node) this.o.onChange({ change: 'joined', node });
    for (const [node] of this.known) {
      if (next.has(node) || node === this.o.node) continue;
      // Still in the bucket but stale: its lease expired (killed, paused, cut off); gone: it shut down.
      this.o.onChange({ change: 'left', node, reason: stale.has(node) ? 'lease-expired' : 'shutdown' });
    }
    this.known = next;
  }

  private async read(store: SnapshotStore, key: string): Promise<NodeInfo | undefined> {
    const stored = await store.get(key);
    if (stored === undefined) return undefined;
    try {
      const info = JSON.parse(this.decoder.decode(stored.value)) as NodeInfo;
      if (typeof info.node !== 'string' || typeof info.heartbeatAt !== 'number' || typeof info.leaseMs !== 'number') return undefined;
      return { ...info, hosting: info.hosting === true, shards: Array.isArray(info.shards) ? info.shards : [] };
    } catch {
      return undefined; // not a node record: ignored, never fatal
    }
  }
}

function alive(info: NodeInfo, now: number): boolean {
  return info.heartbeatAt + info.leaseMs >= now;
}
