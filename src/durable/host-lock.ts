/**
 * One durable host per system (issue 8), until shard leases replace this lock. Two processes that both consumed
 * a system's durable mailboxes would split each shard's consumer between them: stale incarnations act, asks time
 * out, fencing failures use up restart intensity. So a process takes this lock before it hosts durable actors.
 *
 * The lock is one key of the system's nodes bucket (`troupe_<system>_nodes`, key `durable-host`), written only by
 * revision CAS. The holder rewrites it every `leaseMs / 3` (its heartbeat) and answers core requests on
 * `troupe.<system>.ctl.host.<node>`. A contender that finds the lock held asks the holder:
 * - "no responders": the server dropped the holder's subscription, which it does as soon as the holder's
 *   connection closes (a kill -9 included, verified on nats-server 2.9.10), so the holder is gone: take the lock
 *   at once with CAS on the revision read;
 * - an answer from that holder: it is alive: refuse with DurableHostLockedError;
 * - a timeout (a paused or overloaded holder): judge by the heartbeat. nats-server 2.9 ignores per-key TTL, so
 *   staleness compares the stored wall-clock timestamp (clocks of the hosts are assumed in sync to well within
 *   a lease): take over once it is older than the holder's lease, refuse as soon as it advances. Asking again
 *   while waiting catches a holder that answers late, or whose connection the server closes late.
 * A holder whose heartbeat CAS fails, with the key naming another holder, has lost the lock (it was paused for
 * longer than its lease): `onLost` tells the runtime to stop hosting at once. A failed write (NATS unreachable)
 * is not a loss: a contender cannot take the lock without the same server either.
 *
 * Release writes a "released" marker with CAS (never a blind delete), so a restarted process takes over at once
 * and a holder that already lost the lock cannot erase the new holder's.
 */
import { randomBytes } from 'node:crypto';
import { DeadLetterError, DurableHostLockedError, InvalidConfigError, SystemStoppedError, TimeoutError, toPlainError } from '../errors.js';
import type { Logger } from '../log/index.js';
import type { SnapshotStore } from '../persistence/snapshot-store.js';
import type { Clock, TimerHandle } from '../system/clock.js';
import type { Transport, TransportSubscription } from '../transport/transport.js';

export const DEFAULT_HOST_LEASE_MS = 3_000;
export const HOST_LOCK_KEY = 'durable-host';
/** The longest a holder's answer is awaited before judging it by its heartbeat, ms. */
const MAX_PROBE_MS = 500;
/** Bounds the rounds of an acquisition in which every CAS loses to another writer. */
const MAX_ROUNDS = 20;

/** The stored lock: who holds it and when it last said so. */
export interface HostLockHolder {
  readonly node: string;
  /** One per acquisition: tells this holder from an earlier or later process with the same node id. */
  readonly token: string;
  readonly heartbeatAt: number;
  readonly leaseMs: number;
  readonly pid?: number;
  readonly host?: string;
}

type Stored = { readonly revision: number; readonly holder?: HostLockHolder };

export interface HostLockOptions {
  /** Opens the nodes bucket, on the first acquisition only (a node that never hosts durable actors never opens it). */
  readonly store: () => Promise<SnapshotStore>;
  /** Core request/reply for the holder's liveness question. */
  readonly transport: Transport;
  readonly system: string;
  readonly node: string;
  /** How long a silent holder keeps the lock, ms; it heartbeats every third of it. */
  readonly leaseMs: number;
  /** Wall-clock time and timers: systemClock in the runtime (the lock is judged across processes), manual in tests. */
  readonly clock: Clock;
  readonly logger: Logger;
  readonly pid?: number;
  readonly host?: string;
  /** Makes this acquisition's token; random by default. */
  readonly token?: () => string;
  /** The lock was taken from this holder: stop hosting durable actors now. Called once. */
  readonly onLost: (error: DurableHostLockedError) => void;
}

/** Checks `nats.hostLeaseMs`; returns the lease to use. */
export function resolveHostLeaseMs(value: unknown): number {
  return resolveLeaseMs('nats.hostLeaseMs', value, DEFAULT_HOST_LEASE_MS);
}

/** A lease setting (host lock, node membership): an integer from 300 to 600,000 ms, or the default when unset. */
export function resolveLeaseMs(field: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 300 || value > 600_000) {
    throw new InvalidConfigError(field, 'must be an integer from 300 to 600,000 (ms)');
  }
  return value;
}

export class HostLock {
  private state: 'idle' | 'held' | 'lost' | 'released' = 'idle';
  private store: SnapshotStore | undefined;
  private acquiring: Promise<void> | undefined;
  private revision = 0;
  private holder: HostLockHolder | undefined;
  private timer: TimerHandle | undefined;
  private beating: Promise<void> | undefined;
  private listening: TransportSubscription | undefined;
  private lostTo: DurableHostLockedError | undefined;
  private releasing = false;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();

  constructor(private readonly options: HostLockOptions) {}

  get held(): boolean {
    return this.state === 'held';
  }

  private get subject(): string {
    return hostSubject(this.options.system, this.options.node);
  }

  /**
   * Resolves once this process holds the lock (at once when it already does); rejects with DurableHostLockedError
   * while another live process holds it, or for good once this one lost it. Only a holder that does not answer
   * makes it wait: until that holder's heartbeat is a lease old, at most about two leases in all.
   */
  acquire(): Promise<void> {
    if (this.state === 'held') return Promise.resolve();
    if (this.lostTo) return Promise.reject(this.lostTo);
    if (this.releasing) return Promise.reject(new SystemStoppedError(this.options.system));
    this.acquiring ??= this.contend().finally(() => (this.acquiring = undefined));
    return this.acquiring;
  }

  private async contend(): Promise<void> {
    const store = (this.store ??= await this.options.store());
    const { clock, leaseMs } = this.options;
    const started = clock.now();
    let waitingOn: Stored | undefined; // the holder that did not answer, while its heartbeat is judged
    for (let round = 0; round < MAX_ROUNDS; round++) {
      if (this.releasing) throw new SystemStoppedError(this.options.system); // a shutdown does not wait out a lease
      const current = await this.read(store);
      const holder = current?.holder;
      if (!holder) {
        if (await this.take(store, current?.revision ?? null, 'free')) return;
        continue;
      }
      if (waitingOn && current.revision !== waitingOn.revision) throw this.locked(holder); // its heartbeat advanced
      const stale = clock.now() - holder.heartbeatAt >= holder.leaseMs;
      if (waitingOn && stale) {
        if (await this.take(store, current.revision, 'stale')) return;
        continue; // someone wrote first: the next round sees a new revision and refuses
      }
      const answer = await this.probe(holder);
      if (answer === 'gone') {
        if (await this.take(store, current.revision, 'gone')) return;
        waitingOn = undefined;
        continue;
      }
      if (answer === 'alive') throw this.locked(holder);
      if (!waitingOn) this.options.logger.warn({ holder: holder.node, heartbeatAt: holder.heartbeatAt }, 'durable host did not answer; judging it by its heartbeat');
      waitingOn = current;
      if (clock.now() - started > 2 * Math.max(leaseMs, holder.leaseMs) + MAX_PROBE_MS) throw this.locked(holder);
      // Round granularity: the probe itself waits up to its timeout; a short pause keeps a fast "no" from spinning.
      await this.sleep(Math.min(100, leaseMs / 10));
      round = 0; // a slow holder is bounded by the time check above, not by rounds
    }
    throw this.locked((await this.read(store))?.holder ?? { node: '(unknown)', token: '', heartbeatAt: NaN, leaseMs: 0 });
  }

  /** Asks the holder whether it is alive. */
  private async probe(holder: HostLockHolder): Promise<'alive' | 'gone' | 'silent'> {
    const timeoutMs = Math.min(MAX_PROBE_MS, Math.floor(this.options.leaseMs / 3));
    try {
      const reply = await this.options.transport.request(hostSubject(this.options.system, holder.node), this.encoder.encode(holder.token), { timeoutMs });
      // An answer from another process with the same node id says nothing about this holder.
      return this.decoder.decode(reply.data) === holder.token ? 'alive' : 'silent';
    } catch (error) {
      if (error instanceof DeadLetterError && error.reason === 'no responders') return 'gone';
      if (error instanceof TimeoutError) return 'silent';
      throw error;
    }
  }

  /** CAS-writes this process as holder over `revision` (null: the key is absent). True when it won. */
  private async take(store: SnapshotStore, revision: number | null, why: 'free' | 'gone' | 'stale'): Promise<boolean> {
    const token = this.options.token?.() ?? randomToken();
    const holder: HostLockHolder = { node: this.options.node, token, heartbeatAt: this.options.clock.now(), leaseMs: this.options.leaseMs, ...this.where() };
    // Answer before the lock names this process: the subscription reaches the server ahead of the write (one
    // connection, in order), so a contender that reads the new lock always finds someone to ask.
    this.listen(token);
    let result;
    try {
      result = await store.put(HOST_LOCK_KEY, this.encode(holder), revision);
    } catch (error) {
      this.stopListening();
      throw error;
    }
    if (!result.ok) {
      this.stopListening();
      return false;
    }
    this.holder = holder;
    this.revision = result.revision;
    this.state = 'held';
    this.options.logger.info({ node: holder.node, leaseMs: holder.leaseMs, takeover: why }, 'durable host lock acquired');
    this.schedule();
    return true;
  }

  private listen(token: string): void {
    this.stopListening();
    this.listening = this.options.transport.subscribe(this.subject, (message) => {
      if (message.reply) this.options.transport.publish(message.reply, this.encoder.encode(token));
    });
  }

  private stopListening(): void {
    this.listening?.unsubscribe();
    this.listening = undefined;
  }

  private schedule(): void {
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.beating = this.beat().finally(() => (this.beating = undefined));
    }, Math.max(1, Math.floor(this.options.leaseMs / 3)));
  }

  /** One heartbeat: CAS-rewrites the lock with the time now. */
  private async beat(): Promise<void> {
    const store = this.store;
    if (this.state !== 'held' || !this.holder || !store) return;
    const next = { ...this.holder, heartbeatAt: this.options.clock.now() };
    try {
      const result = await store.put(HOST_LOCK_KEY, this.encode(next), this.revision);
      if (this.state !== 'held') return;
      if (result.ok) {
        this.holder = next;
        this.revision = result.revision;
      } else if (!(await this.stillMine(store))) {
        return;
      }
    } catch (error) {
      // NATS unreachable: not a loss (nobody can take the lock without the server either); try again next beat.
      this.options.logger.warn({ err: toPlainError(error) }, 'durable host heartbeat failed; retrying');
    }
    if (this.state === 'held') this.schedule();
  }

  /** After a refused heartbeat: true when the key still names this acquisition (the server lost a write). */
  private async stillMine(store: SnapshotStore): Promise<boolean> {
    const current = await this.read(store);
    if (current && current.holder?.token === this.holder?.token) {
      this.revision = current.revision;
      return true;
    }
    if (!current && this.holder) {
      // The key is gone (the bucket was purged or lost): nobody holds the lock, so this process keeps it.
      const created = await store.put(HOST_LOCK_KEY, this.encode(this.holder), null);
      if (created.ok) {
        this.revision = created.revision;
        return true;
      }
    }
    const taker = current?.holder ?? { node: '(released by another process)', heartbeatAt: NaN };
    this.lose(this.locked(taker));
    return false;
  }

  private lose(error: DurableHostLockedError): void {
    if (this.state !== 'held') return;
    this.state = 'lost';
    this.lostTo = error;
    this.stopListening();
    try {
      this.options.onLost(error);
    } catch (failure) {
      this.options.logger.error({ err: toPlainError(failure) }, 'durable host lock: onLost failed');
    }
  }

  /** Stops heartbeating and, when still held, writes the released marker with CAS. Idempotent. */
  async release(): Promise<void> {
    this.releasing = true;
    if (this.acquiring) await this.acquiring.catch(() => undefined);
    const wasHeld = this.state === 'held';
    if (this.state !== 'lost') this.state = 'released';
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.beating;
    this.stopListening();
    if (!wasHeld || !this.store || !this.holder) return;
    const marker = this.encoder.encode(JSON.stringify({ v: 1, released: true, node: this.holder.node, at: this.options.clock.now() }));
    try {
      const result = await this.store.put(HOST_LOCK_KEY, marker, this.revision);
      if (!result.ok) this.options.logger.warn({ node: this.holder.node }, 'durable host lock was taken before release');
    } catch (error) {
      // The next process then takes over once it finds this one gone (no responders): still at once.
      this.options.logger.warn({ err: toPlainError(error) }, 'durable host lock release failed');
    }
  }

  private locked(holder: { node: string; heartbeatAt: number; pid?: number; host?: string }): DurableHostLockedError {
    return new DurableHostLockedError(this.options.system, holder);
  }

  private where(): { pid?: number; host?: string } {
    const { pid, host } = this.options;
    return { ...(pid === undefined ? {} : { pid }), ...(host === undefined ? {} : { host }) };
  }

  private encode(holder: HostLockHolder): Uint8Array {
    return this.encoder.encode(JSON.stringify({ v: 1, ...holder }));
  }

  /** The lock as stored: absent, released or unreadable (free to take over its revision), or a holder. */
  private async read(store: SnapshotStore): Promise<Stored | undefined> {
    const stored = await store.get(HOST_LOCK_KEY);
    if (!stored) return undefined;
    const holder = decodeHolder(this.decoder.decode(stored.value));
    return holder ? { revision: stored.revision, holder } : { revision: stored.revision };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.options.clock.setTimeout(resolve, ms));
  }
}

/** `troupe.<system>.ctl.host.<node>`: where the holder answers "are you alive?". */
export function hostSubject(system: string, node: string): string {
  return `troupe.${system}.ctl.host.${node}`;
}

function decodeHolder(text: string): HostLockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<HostLockHolder> & { released?: boolean };
    if (value.released || typeof value.node !== 'string' || typeof value.token !== 'string') return undefined;
    if (typeof value.heartbeatAt !== 'number' || typeof value.leaseMs !== 'number') return undefined;
    return value as HostLockHolder;
  } catch {
    return undefined; // garbage in the key holds nothing
  }
}

function randomToken(): string {
  return randomBytes(8).toString('hex');
}
