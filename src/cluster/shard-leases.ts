/**
 * Shard leases (issue 9): which node consumes which mailbox shard, replacing the single durable host lock of issue 8.
 * Durable actors map to N shards by a stable hash of their address (mailbox-log.ts `shardOf`); each node holds a
 * fair share of the shards as leases in the system's nodes bucket (`troupe_<system>_nodes`), and consumes and hosts
 * only the shards it holds — virtual actors over leased shards, as in Akka Cluster Sharding and Orleans.
 *
 * - `shards`: N, written once by the first node; a node started with another N is refused (InvalidConfigError):
 *   the shard of every stored message and record depends on it.
 * - `shard.<n>`: the lease `{ node, token, epoch, heartbeatAt, leaseMs }`, written only by revision CAS. A claim
 *   raises the epoch by one; renewals keep it. Durable records carry the epoch of the lease they were written under,
 *   and a new owner's first act on activating an actor is a CAS rewrite of its record with the new epoch
 *   (durable-cell.ts), so an older owner that was paused or cut off can never write over it.
 *
 * Every node runs a round every third of its lease: renew what it holds (a refused renewal means another node took
 * the shard: `lost`, stop at once), count the live nodes (membership), and move towards ceil(N / live) shards —
 * claiming free ones (never written, released, or whose holder's heartbeat is a lease old, or whose holder the
 * server says is gone: "no responders" on its probe subject, which the server drops as soon as a killed process's
 * connection closes), or draining shards above the share — a tenth of all shards per round at most (`drain`:
 * in-flight work finished and stored, consumer stopped) — before writing a release marker with CAS, so a joining
 * node takes shards gradually and nothing is handled by two nodes at once.
 *
 * A holder counts its lease valid for `leaseMs` after the renewal it last sent that the server accepted: a node
 * that was paused (SIGSTOP) past that handles nothing more on the shard (`owns` turns false at once, on its own
 * clock) before it even learns that the shard moved.
 */
import { randomBytes } from 'node:crypto';
import { DeadLetterError, InvalidConfigError, TimeoutError, toPlainError } from '../errors.js';
import type { Logger } from '../log/index.js';
import type { SnapshotStore } from '../persistence/snapshot-store.js';
import type { Clock, TimerHandle } from '../system/clock.js';
import type { Transport, TransportSubscription } from '../transport/transport.js';

const SHARDS_KEY = 'shards';
const MAX_PROBE_MS = 500;

/** A lease as stored. `released` marks a shard its last holder handed over (its epoch stays, for the next claim). */
interface LeaseRecord {
  readonly node: string;
  readonly token: string;
  readonly epoch: number;
  readonly heartbeatAt: number;
  readonly leaseMs: number;
  readonly released?: boolean;
}

interface Held {
  readonly epoch: number;
  revision: number;
  /** Wall-clock time the last accepted renewal (or the claim) was sent: the lease is valid for leaseMs after it. */
  renewedAt: number;
}

export type ShardChange =
  | { readonly change: 'acquired'; readonly shard: number; readonly epoch: number; readonly from?: string }
  | { readonly change: 'released'; readonly shard: number; readonly epoch: number }
  | { readonly change: 'lost'; readonly shard: number; readonly epoch: number; readonly to: string };

export interface ShardLeasesOptions {
  /** Opens the nodes bucket (on the first round only). */
  readonly store: () => Promise<SnapshotStore>;
  /** Core request/reply for "is this holder alive?". */
  readonly transport: Transport;
  readonly system: string;
  readonly node: string;
  readonly shards: number;
  readonly leaseMs: number;
  /** Wall-clock time and timers: leases are judged across processes. */
  readonly clock: Clock;
  readonly logger: Logger;
  /** The live hosting nodes (membership), this one included, with the lease token each answers probes for. */
  readonly liveNodes: () => Promise<readonly { readonly node: string; readonly token?: string | undefined }[]>;
  /** Took these shards: consume them and activate their stored actors. Awaited before the next round. */
  readonly acquired: (shards: readonly number[]) => Promise<void>;
  /** Hand the shard over: finish and store in-flight work, stop its consumer and actors. Awaited before release. */
  readonly drain: (shard: number) => Promise<void>;
  /** Another node took the shard (this one was paused or cut off): stop its actors now, writing nothing. */
  readonly lost: (shard: number) => void;
  /** Every change, for events and logs. */
  readonly onChange: (change: ShardChange) => void;
  /** Makes this process's token; random by default. */
  readonly token?: () => string;
}

export class ShardLeases {
  private readonly held = new Map<number, Held>();
  private readonly token: string;
  private store: SnapshotStore | undefined;
  private started: Promise<void> | undefined;
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private listening: TransportSubscription | undefined;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();

  constructor(private readonly o: ShardLeasesOptions) {
    this.token = o.token?.() ?? randomBytes(8).toString('hex');
  }

  /** Checks the shard count, then runs the first round (this node's first claims are consumed when it resolves). */
  start(): Promise<void> {
    this.started ??= (async () => {
      const store = (this.store = await this.o.store());
      await this.checkShardCount(store);
      this.listen();
      await this.round();
      this.schedule();
    })();
    return this.started;
  }

  /**
   * Answers probes for this process's token (once). Before any lease or heartbeat names the token, so whoever reads
   * it finds someone to ask.
   */
  listen(): void {
    this.listening ??= this.o.transport.subscribe(probeSubject(this.o.system, this.token), (message) => {
      if (message.reply) this.o.transport.publish(message.reply, this.encoder.encode(this.o.node));
    });
  }

  /** The token this process answers lease probes for (and writes in its leases). */
  get probeToken(): string {
    return this.token;
  }

  /** True while this node holds `shard` and its lease is valid by its own clock. */
  owns(shard: number): boolean {
    const held = this.held.get(shard);
    return held !== undefined && this.o.clock.now() - held.renewedAt < this.o.leaseMs;
  }

  /** The epoch of this node's lease on `shard`, or undefined when it does not hold it. */
  epochOf(shard: number): number | undefined {
    return this.held.get(shard)?.epoch;
  }

  /** The shards this node holds, ascending. */
  heldShards(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  /**
   * Stops the rounds and writes a release marker on every shard still held (CAS, so a lease already lost is left
   * alone): the others take them at their next round, not a lease later. The caller has stopped consuming first.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    await this.running;
    this.listening?.unsubscribe();
    const store = this.store;
    if (!store) return;
    await Promise.all(this.heldShards().map((shard) => this.release(store, shard)));
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.o.clock.setTimeout(() => {
      this.running = this.round()
        .catch((error: unknown) => this.o.logger.warn({ err: toPlainError(error) }, 'shard lease round failed; retrying'))
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, Math.max(1, Math.floor(this.o.leaseMs / 3)));
  }

  private async checkShardCount(store: SnapshotStore): Promise<void> {
    const wanted = this.o.shards;
    for (let attempt = 0; attempt < 3; attempt++) {
      const stored = await store.get(SHARDS_KEY);
      if (stored === undefined) {
        if ((await store.put(SHARDS_KEY, this.encoder.encode(JSON.stringify({ shards: wanted })), null)).ok) return;
        continue; // another node wrote it first: read theirs
      }
      const recorded = (JSON.parse(this.decoder.decode(stored.value)) as { shards?: unknown }).shards;
      if (recorded === wanted) return;
      throw new InvalidConfigError('nats.shards', `is ${wanted}, but system ${this.o.system} was created with ${String(recorded)} shards: every stored message and record is placed by that number`);
    }
  }

  /** Renew, then move towards this node's share. */
  private async round(): Promise<void> {
    const store = this.store;
    if (!store || this.stopped) return;
    await this.renew(store);
    await this.ready();
    if (this.stopped) return;
    const [records, live] = await Promise.all([this.readAll(store), this.o.liveNodes()]);
    const now = this.o.clock.now();
    const gone = await this.goneHolders(records, live, now);
    const liveCount = Math.max(1, new Set([...live.map((n) => n.node), this.o.node].filter((node) => !gone.nodes.has(node))).size);
    const share = Math.ceil(this.o.shards / liveCount);
    const free = this.freeShards(records, now, gone.tokens);
    // A shard free at two rounds running has no taker below its share (one stopped hosting): anyone takes it.
    const orphans = free.filter((candidate) => this.freeBefore.has(candidate.shard));
    this.freeBefore = new Set(free.map((candidate) => candidate.shard));
    if (this.held.size < share) {
      await this.claim(store, free, share - this.held.size);
    } else if (orphans.length > 0) {
      await this.claim(store, orphans, orphans.length);
    } else if (this.held.size > share && liveCount > 1) {
      // A tenth of the shards per round at most (as Akka's shard allocation limits a rebalance), so the others take
      // them up gradually and a node never drains much at once.
      const moving = this.heldShards().slice(-Math.min(this.held.size - share, Math.max(1, Math.ceil(this.o.shards / 10))));
      await Promise.all(moving.map(async (shard) => {
        await this.o.drain(shard);
        await this.release(store, shard);
      }));
    }
  }

  /** Shards free at the last round. */
  private freeBefore = new Set<number>();

  /**
   * Shards nobody holds: never claimed, released, expired, or held by a process the server says is gone. Each node
   * lists them in its own order, so claimants rarely collide on one key.
   */
  private freeShards(records: readonly (Stored | undefined)[], now: number, goneTokens: ReadonlySet<string>): Candidate[] {
    const free: Candidate[] = [];
    for (let shard = 0; shard < this.o.shards; shard++) {
      if (this.held.has(shard)) continue;
      const stored = records[shard];
      const lease = stored?.lease;
      if (lease && !lease.released && !expired(lease, now) && !goneTokens.has(lease.token)) continue;
      free.push({ shard, revision: stored?.revision ?? null, epoch: (stored?.epoch ?? 0) + 1, ...(lease && !lease.released ? { from: lease.node } : {}) });
    }
    return free.sort((a, b) => preference(this.o.node, a.shard) - preference(this.o.node, b.shard));
  }

  /** Rewrites every held lease with the time now; a refused renewal whose key names another holder is a loss. */
  private async renew(store: SnapshotStore): Promise<void> {
    await Promise.all(this.heldShards().map(async (shard) => {
      const held = this.held.get(shard)!;
      const sentAt = this.o.clock.now();
      try {
        const result = await store.put(leaseKey(shard), this.encode({ epoch: held.epoch, heartbeatAt: sentAt }), held.revision);
        if (this.held.get(shard) !== held) return;
        if (result.ok) {
          const lapsed = !this.owns(shard); // by this node's clock, until this renewal
          held.revision = result.revision;
          held.renewedAt = sentAt;
          if (lapsed) this.regained(shard);
          return;
        }
        const current = await this.read(store, shard);
        if (current?.lease?.token === this.token && current.lease.epoch === held.epoch && !current.lease.released) {
          held.revision = current.revision; // the server lost our write: still ours
          return;
        }
        this.lose(shard, held, current?.lease?.node ?? '(unknown)');
      } catch (error) {
        // NATS unreachable: no one can take the lease without the server either; `owns` lapses on its own meanwhile.
        this.o.logger.warn({ err: toPlainError(error), shard }, 'shard lease renewal failed; retrying');
      }
    }));
  }

  /**
   * Renewed after the lease had lapsed by this node's clock (a process too busy or paused to renew in time), and no
   * other node took it meanwhile. While it was lapsed, this node's actors of the shard found no lease: an activation
   * did not start, a write was refused, and they stopped. The shard is this node's still, so it is handed to
   * `acquired` again at this round, as after a takeover: its stored actors that are not running start from their
   * records (those running are left alone), or a workflow whose step was in flight would wait for ever.
   */
  private regained(shard: number): void {
    this.o.logger.warn({ shard }, `shard ${shard} lease renewed after it lapsed: its stopped actors start again`);
    if (!this.unready.includes(shard)) this.unready.push(shard);
  }

  private lose(shard: number, held: Held, to: string): void {
    this.held.delete(shard);
    this.o.logger.error({ shard, epoch: held.epoch, to }, `shard ${shard} lease lost to node ${to}: its actors stop here`);
    this.o.onChange({ change: 'lost', shard, epoch: held.epoch, to });
    try {
      this.o.lost(shard);
    } catch (error) {
      this.o.logger.error({ err: toPlainError(error), shard }, 'stopping a lost shard failed');
    }
  }

  /**
   * Holders of unexpired leases, and nodes membership still lists, whose probe subject has no responder: their
   * process is gone (killed) — their leases are free and they take no share, without waiting for a lease to expire.
   */
  private async goneHolders(records: readonly (Stored | undefined)[], live: Awaited<ReturnType<ShardLeasesOptions['liveNodes']>>, now: number): Promise<{ nodes: Set<string>; tokens: Set<string> }> {
    const tokens = new Map<string, string>();
    for (const { node, token } of live) if (token !== undefined && token !== this.token) tokens.set(token, node);
    for (const stored of records) {
      const lease = stored?.lease;
      if (lease && !lease.released && lease.token !== this.token && !expired(lease, now)) tokens.set(lease.token, lease.node);
    }
    const gone = { nodes: new Set<string>(), tokens: new Set<string>() };
    await Promise.all([...tokens].map(async ([token, node]) => {
      if (await this.probeGone(token)) {
        gone.tokens.add(token);
        gone.nodes.add(node);
      }
    }));
    return gone;
  }

  private async probeGone(token: string): Promise<boolean> {
    try {
      await this.o.transport.request(probeSubject(this.o.system, token), new Uint8Array(0), { timeoutMs: Math.min(MAX_PROBE_MS, Math.floor(this.o.leaseMs / 3)) });
      return false;
    } catch (error) {
      if (error instanceof DeadLetterError && error.reason === 'no responders') return true;
      if (error instanceof TimeoutError) return false; // slow or paused: judged by its heartbeat
      throw error;
    }
  }

  /** Claims up to `count` of the candidates, each with CAS over the revision read and the next epoch. */
  private async claim(store: SnapshotStore, free: readonly Candidate[], count: number): Promise<void> {
    const taken: number[] = [];
    for (const candidate of free.slice(0, count)) {
      const sentAt = this.o.clock.now();
      const result = await store.put(leaseKey(candidate.shard), this.encode({ epoch: candidate.epoch, heartbeatAt: sentAt }), candidate.revision);
      if (!result.ok || this.stopped) continue; // another node claimed it first
      this.held.set(candidate.shard, { epoch: candidate.epoch, revision: result.revision, renewedAt: sentAt });
      taken.push(candidate.shard);
      const from = candidate.from;
      this.o.logger.info({ shard: candidate.shard, epoch: candidate.epoch, from }, from ? `shard ${candidate.shard} taken over from node ${from}` : `shard ${candidate.shard} acquired`);
      this.o.onChange({ change: 'acquired', shard: candidate.shard, epoch: candidate.epoch, ...(from ? { from } : {}) });
    }
    this.unready.push(...taken);
    await this.ready();
  }

  /** Held shards whose `acquired` has not succeeded yet (a listing that timed out): tried again every round. */
  private unready: number[] = [];

  /** Hands the held shards not consumed yet to `acquired`; on failure they stay for the next round. */
  private async ready(): Promise<void> {
    const shards = this.unready.filter((shard) => this.held.has(shard));
    if (shards.length === 0) return;
    try {
      await this.o.acquired(shards);
      this.unready = this.unready.filter((shard) => !shards.includes(shard));
    } catch (error) {
      this.unready = shards;
      this.o.logger.warn({ err: toPlainError(error), shards }, 'starting the shards just taken failed; retrying next round');
    }
  }

  /** Writes the release marker over this node's revision (never a blind write: a lost lease stays the taker's). */
  private async release(store: SnapshotStore, shard: number): Promise<void> {
    const held = this.held.get(shard);
    if (!held) return;
    this.held.delete(shard);
    try {
      const marker = { node: this.o.node, token: this.token, epoch: held.epoch, heartbeatAt: this.o.clock.now(), leaseMs: this.o.leaseMs, released: true };
      const result = await store.put(leaseKey(shard), this.encoder.encode(JSON.stringify(marker)), held.revision);
      if (result.ok) {
        this.o.logger.info({ shard, epoch: held.epoch }, `shard ${shard} released`);
        this.o.onChange({ change: 'released', shard, epoch: held.epoch });
      }
    } catch (error) {
      // The lease then expires on its own: the others take the shard a lease later.
      this.o.logger.warn({ err: toPlainError(error), shard }, 'shard lease release failed; it expires with its lease');
    }
  }

  private async readAll(store: SnapshotStore): Promise<(Stored | undefined)[]> {
    return Promise.all(Array.from({ length: this.o.shards }, (_, shard) => this.read(store, shard)));
  }

  private async read(store: SnapshotStore, shard: number): Promise<Stored | undefined> {
    const stored = await store.get(leaseKey(shard));
    if (!stored) return undefined;
    const lease = decodeLease(this.decoder.decode(stored.value));
    return { revision: stored.revision, epoch: lease?.epoch ?? 0, ...(lease ? { lease } : {}) };
  }

  private encode(fields: { epoch: number; heartbeatAt: number }): Uint8Array {
    const lease: LeaseRecord = { node: this.o.node, token: this.token, leaseMs: this.o.leaseMs, ...fields };
    return this.encoder.encode(JSON.stringify(lease));
  }
}

interface Candidate {
  readonly shard: number;
  /** The lease key's revision when read (null: never written), for the CAS. */
  readonly revision: number | null;
  /** The epoch a claim writes: one above the last. */
  readonly epoch: number;
  /** The holder whose lease expired or whose process is gone, when taken over. */
  readonly from?: string;
}

interface Stored {
  readonly revision: number;
  readonly epoch: number;
  readonly lease?: LeaseRecord;
}

function leaseKey(shard: number): string {
  return `shard.${shard}`;
}

/** `troupe.<system>.ctl.lease.<token>`: answered by the process holding leases under that token while it lives. */
function probeSubject(system: string, token: string): string {
  return `troupe.${system}.ctl.lease.${token}`;
}

function expired(lease: LeaseRecord, now: number): boolean {
  return now - lease.heartbeatAt >= lease.leaseMs;
}

/** A node's stable order of shards (FNV-1a of node and shard). */
function preference(node: string, shard: number): number {
  const text = `${node}#${shard}`;
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function decodeLease(text: string): LeaseRecord | undefined {
  try {
    const value = JSON.parse(text) as Partial<LeaseRecord>;
    if (typeof value.node !== 'string' || typeof value.token !== 'string' || typeof value.epoch !== 'number') return undefined;
    if (typeof value.heartbeatAt !== 'number' || typeof value.leaseMs !== 'number') return undefined;
    return value as LeaseRecord;
  } catch {
    return undefined; // garbage in a lease key holds nothing
  }
}
