/**
 * The durable side of one node: sends to durable actors go through the mailbox log; one consumer per shard hands
 * each delivery to its actor's ordered inbox (ordered-inbox.ts), activating the actor from its stored record on
 * demand (virtual actors, as in Orleans / Akka Cluster Sharding). Every message that cannot be applied — garbage,
 * an unknown or finished actor, a type the logic never handles, a handler that failed — is written to the
 * dead-letter stream with its reason and acked only after that write (issue 8).
 *
 * Deliveries are never nak'd: each actor's inbox keeps them, in order, and this node marks every held one
 * `working()` at a third of `ack_wait`, so the log redelivers only what a dead process held.
 */
import type { Context } from '@opentelemetry/api';
import { extractContext, injectContext } from '../observability/propagation.js';
import type { EventObject } from 'xstate';
import { decodeEventEnvelope, encodeEnvelope, eventEnvelope, type EventEnvelope } from '../codec/index.js';
import { backoffDelay } from '../backoff.js';
import { DeadLetterError, isRetryable, NonRetryableError, toPlainError } from '../errors.js';
import type { Logger } from '../log/index.js';
import {
  addressOfSubject,
  mailboxSubject,
  shardOf,
  type AppendResult,
  type DeadLetterDetail,
  type MailboxDelivery,
  type MailboxLog,
  type StoredDeadLetter,
} from '../persistence/mailbox-log.js';
import { snapshotKey, type SnapshotStore } from '../persistence/snapshot-store.js';
import type { ActorSystemCore } from '../system/actor-system.js';
import { addressOfTokens, parseAddress } from '../system/address.js';
import type { Transport } from '../transport/transport.js';
import type { TimerHandle } from '../system/clock.js';
import type { ReplyTarget } from '../system/message.js';
import { DurableCell } from './durable-cell.js';
import { RemoteReplies } from './remote-replies.js';
import { finishSuperseded, moveToFinished } from './finished-records.js';
import { decodeRecord, type DurableRecord, type DurableStatus } from './durable-record.js';
import { OrderedInbox, type InboxEntry } from './ordered-inbox.js';
import { earliestDue, PassiveIndex } from './passive-index.js';
import { deleteOldest } from '../oldest-entry.js';

const APPEND_RETRY_MS = 60_000;
const APPEND_BACKOFF = { minMs: 100, maxMs: 2_000, factor: 2, jitter: 0.2 };
/** Default ack_wait of the log (JETSTREAM_MAILBOX_DEFAULTS), for the keep-alive period when none is configured. */
const DEFAULT_ACK_WAIT_MS = 30_000;
const RETRY_LATER_MS = 1_000;
/**
 * Finished actors whose addresses stay routed through the log, most recent first: a late message to one is a durable
 * dead letter. Older ones are forgotten, so the routing table holds the loaded, passive and recently finished actors,
 * not every actor this node ever ran (one workflow run is one actor).
 */
const FINISHED_ROUTED = 10_000;
/** `cellFor`'s answer for an actor that stopped here because its shard moved (see there). */
const MOVED = Symbol('moved');
/** A delivery of a shard whose lease lapsed here is given back for redelivery after this long, ms. */
const NOT_MINE_RETRY_MS = 100;
/** Delete markers of moved records older than this are purged from the snapshot store (at recover, then hourly). */
const TOMBSTONE_AGE_MS = 30 * 60_000;
const TOMBSTONE_PURGE_EVERY_MS = 60 * 60_000;
const WAKE_HORIZON_MS = 5 * 60_000;
/** A failed listing of the passive index is tried again after this long, ms. */
const RESCAN_RETRY_MS = 1_000;

export interface DurableNodeOptions {
  readonly core: ActorSystemCore;
  /** Active actors' records: the index `recover()` lists (finished-records.ts). */
  readonly store: SnapshotStore;
  /** Final records, moved out of `store` (finished-records.ts); without it they stay in `store`. */
  readonly finished?: SnapshotStore;
  readonly log: MailboxLog;
  readonly logger: Logger;
  /** Unique per process: prefixes message ids so publishes from two processes never collide. */
  readonly nodeId: string;
  /** Creates and starts the cell for a stored record (the runtime attaches it to its supervisor). */
  readonly activate: (record: DurableRecord) => DurableCell;
  readonly ackWaitMs?: number;
  /** Where asks across nodes are answered (NATS); without it, a durable ask is answered only on the node that asked it. */
  readonly transport?: Transport;
  /** Compact the log (MailboxLog.compact) after this many messages were acked here since the last compaction. */
  readonly compactEvery?: number;
  /**
   * Whether this node may handle deliveries of `shard` now (it holds a valid lease: shard-leases.ts); a delivery it
   * may not handle is left unacked for the shard's owner. Without it, every shard is this node's.
   */
  readonly mayHandle?: (shard: number) => boolean;
  /** Starts a durable actor a spawn request in the log names (placed on this node by its shard). */
  readonly spawnHere?: (request: SpawnRequest) => DurableCell;
  /** Stops a cell of a shard this node hands over or lost (as at shutdown: its record stays active). */
  readonly stopCell?: (cell: DurableCell) => Promise<void>;
  /** Unloads a durable actor idle this long (runtime clock, ms); undefined: never (passivation, issue 9). */
  readonly passivateAfterMs?: number;
  /**
   * The passivated actors' index (passive-index.ts): `recover()` reads it first and leaves the actors it lists
   * unloaded, unread. Without it every record is read at recover and every passivated actor's next timer is held here.
   */
  readonly passiveIndex?: SnapshotStore;
  /** Passivated actors due within this long have their wake-up held in memory; the rest wait in the index. Default 5 min. */
  readonly wakeHorizonMs?: number;
}

/** A durable spawn made on a node that does not hold the actor's shard: carried to the owner through the log. */
export interface SpawnRequest {
  readonly address: string;
  readonly logic: string;
  readonly parent: string;
  readonly input: unknown;
  readonly restart?: string;
  readonly mailboxCapacity?: number;
  /** The request's log sequence: the actor's birth (later messages on its subject are its own). */
  readonly seq: number;
}

/** The event type of a spawn request in the log: handled by the owning node, never by an actor. */
export const SPAWN_EVENT = 'troupe.spawn';

/** One durable actor this node hosts: its inbox, and its cell once activated. */
interface Slot {
  readonly address: string;
  readonly shard: number;
  readonly subject: string;
  readonly inbox: OrderedInbox;
  cell: DurableCell | undefined;
}

export class DurableNode {
  /** Addresses this node knows to be durable: sends to them go through the log even when not active. */
  private readonly known = new Set<string>();
  /** Known addresses of actors that finished, the last FINISHED_ROUTED of them (insertion order). */
  private readonly finishedKnown = new Map<string, true>();
  private readonly asks = new Map<string, ReplyTarget>();
  private readonly activating = new Map<string, Promise<DurableCell | typeof MOVED | undefined>>();
  private readonly slots = new Map<string, Slot>();
  /** Envelopes decoded on arrival, so a release does not decode twice. */
  private readonly decoded = new WeakMap<MailboxDelivery, EventEnvelope>();
  private readonly cells = new Set<DurableCell>();
  /** The last delivery sequence seen per shard: a jump resets the order assumption of the shard's inboxes. */
  private readonly lastDelivery = new Map<number, number>();
  /** The stop function of each shard consumed here. */
  private readonly consumers = new Map<number, Promise<() => Promise<void>>>();
  private keepAlive: ReturnType<typeof setInterval> | undefined;
  private tombstones: ReturnType<typeof setInterval> | undefined;
  private counter = 0;
  /**
   * The highest sequence delivered per shard: every message at or below it was delivered (first deliveries come in
   * order), so a fresh actor of that shard owns none of them — they were sent before it existed.
   */
  private readonly delivered = new Map<number, number>();
  private stopped = false;
  /** Messages acked by this node's cells since the last compaction, and the compaction in flight. */
  private ackedSinceCompact = 0;
  private compacting: Promise<void> | undefined;
  /** Garbage and undeliverable messages written to the dead-letter stream by this node. */
  rejected = 0;
  /** Actors unloaded after being idle, since start. */
  passivated = 0;
  /** Deliveries the log handed over more than once (ack_wait passed, a nak, a dead process's). */
  redeliveries = 0;
  /** Wake-ups of passivated actors at their earliest timer, by address: those due within the wake horizon. */
  private readonly wakes = new Map<string, TimerHandle>();
  private readonly index: PassiveIndex | undefined;
  /** Wake-ups due within this long are held in memory (`wakeHorizonMs`). */
  private readonly horizonMs: number;
  /** Per shard, the earliest due time of a passivated actor past the wake horizon: its index is read again then. */
  private readonly later = new Map<number, number>();
  private rescanTimer: TimerHandle | undefined;
  /** Passivated actors `recover()` left unloaded because the passive index listed them (their records unread). */
  passiveListed = 0;
  private sweeper: ReturnType<typeof setInterval> | undefined;
  private sweeping = false;

  /** Answers to asks across nodes (NATS): this node's reply subject, and the targets that answer other nodes. */
  private readonly replies: RemoteReplies | undefined;

  constructor(private readonly options: DurableNodeOptions) {
    this.index = options.passiveIndex ? new PassiveIndex(options.passiveIndex) : undefined;
    this.horizonMs = options.wakeHorizonMs ?? WAKE_HORIZON_MS;
    if (options.transport) {
      this.replies = new RemoteReplies(options.transport, options.core.name, options.nodeId, (correlationId) => {
        const target = this.asks.get(correlationId);
        this.asks.delete(correlationId);
        return target;
      });
      this.replies.start();
    }
  }

  /**
   * The reply target of a stored message: the pending ask when this node asked it, a target that answers the asking
   * node when another node did, none for a tell (or an ask whose asker this node no longer knows).
   */
  private replyOf(envelope: EventEnvelope | undefined): ReplyTarget | undefined {
    const correlationId = envelope?.correlationId;
    if (correlationId === undefined) return undefined;
    const local = this.asks.get(correlationId);
    if (local !== undefined) return local;
    const replyTo = envelope!.replyTo;
    if (this.replies === undefined || replyTo === undefined || replyTo === this.replies.subject) return undefined;
    return this.replies.targetFor(replyTo, correlationId);
  }

  get log(): MailboxLog {
    return this.options.log;
  }

  /** Durable cells in memory here (`durabilityStats().loaded`). */
  get loaded(): number {
    return this.cells.size;
  }

  knows(address: string): boolean {
    return this.known.has(address) || this.finishedKnown.has(address);
  }

  /** A durable actor spawned, or hosted somewhere: routed through the log until it finishes. */
  remember(address: string): void {
    this.known.add(address);
    this.finishedKnown.delete(address);
  }

  /** A message sent to `address`: known from now on, unless it is a finished actor's (still routed, not kept). */
  private sentTo(address: string): void {
    if (!this.finishedKnown.has(address)) this.known.add(address);
  }

  /** The actor finished: routed still, among the most recent finished ones only. */
  private forgetFinished(address: string): void {
    this.known.delete(address);
    this.finishedKnown.delete(address);
    this.finishedKnown.set(address, true);
    if (this.finishedKnown.size > FINISHED_ROUTED) deleteOldest(this.finishedKnown);
  }

  /** Addresses routed through the log (`durabilityStats().knownAddresses`). */
  get knownAddresses(): number {
    return this.known.size + this.finishedKnown.size;
  }

  /**
   * A durable cell of this node (spawned or activated): its last writes are awaited at stop. Tracked until its own
   * stop has stored them: a node runs any number of workflows one after another, and keeps only the live ones.
   */
  track(cell: DurableCell): void {
    this.cells.add(cell);
    cell.afterStop = () => void this.cells.delete(cell);
  }

  /** Starts the keep-alive of held deliveries and the tombstone purge (once), then consumes every shard. */
  start(): Promise<void> {
    return this.consume(Array.from({ length: this.options.log.shards }, (_, shard) => shard));
  }

  /** Starts the consumers of `shards` (those not consumed yet); resolves once they consume. */
  async consume(shards: readonly number[]): Promise<void> {
    this.startService();
    const ackWaitMs = this.options.ackWaitMs;
    const starting = shards.filter((shard) => !this.consumers.has(shard)).map((shard) => {
      const handler = (delivery: MailboxDelivery) => this.onDelivery(shard, delivery);
      const started = this.options.log.consume(shard, handler, ackWaitMs === undefined ? undefined : { ackWaitMs });
      this.consumers.set(shard, started);
      started.catch(() => this.consumers.delete(shard));
      return started;
    });
    await Promise.all(starting);
  }

  private startService(): void {
    if (this.keepAlive !== undefined || this.stopped) return;
    const period = Math.max(10, Math.floor((this.options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS) / 3));
    this.keepAlive = setInterval(() => {
      for (const slot of this.slots.values()) slot.inbox.keepAlive();
    }, period);
    this.keepAlive.unref();
    // Moved records leave delete markers in the snapshot store: purged at recover() and then hourly.
    this.tombstones = setInterval(() => this.purgeTombstones(), TOMBSTONE_PURGE_EVERY_MS);
    this.tombstones.unref();
    const after = this.options.passivateAfterMs;
    if (after !== undefined) {
      this.sweeper = setInterval(() => void this.sweep(after), Math.max(10, Math.min(60_000, Math.floor(after / 2))));
      this.sweeper.unref();
    }
  }

  /** Passivates the actors idle for `after` ms (one sweep at a time). */
  private async sweep(after: number): Promise<void> {
    if (this.sweeping || this.stopped) return;
    this.sweeping = true;
    try {
      const now = this.options.core.clock.now();
      const idle = [...this.cells].filter((cell) => {
        const since = cell.idleSince();
        return since !== undefined && now - since >= after;
      });
      await Promise.all(idle.map((cell) => this.passivate(cell)));
    } finally {
      this.sweeping = false;
    }
  }

  /** Unloads an idle actor: its record is marked passive, its incarnation ends, its next timer is scheduled here. */
  private async passivate(cell: DurableCell): Promise<void> {
    if (!(await cell.passivate().catch(() => false)) || this.stopped) return;
    const slot = this.slots.get(cell.address);
    if (slot && slot.inbox.size > 0) return; // a message arrived meanwhile: it stays
    if (slot) {
      this.slots.delete(cell.address);
      slot.inbox.close();
    }
    this.cells.delete(cell);
    await this.options.stopCell?.(cell);
    this.passivated++; // counted once unloaded: the stat (and what waits on it) never sees a cell still stopping
    await this.indexPassive(cell.address, cell.storedTimers);
  }

  /** Indexes an actor whose stored record is passive (after that record: see passive-index.ts), then schedules it. */
  private async indexPassive(address: string, timers: readonly { readonly dueAt: number }[]): Promise<void> {
    const shard = shardOf(address, this.options.log.shards);
    const dueAt = earliestDue(timers);
    try {
      await this.index?.add(shard, address, dueAt);
    } catch (error) {
      // Not indexed: its wake-up stays in memory (a restart reads its passive record and indexes it then).
      this.options.logger.warn({ err: toPlainError(error), address }, 'indexing a passivated actor failed');
      this.wakeAt(address, dueAt);
      return;
    }
    this.schedulePassive(shard, address, dueAt);
  }

  /** A passivated actor's wake-up: held here when due within the horizon (or with no index), else left to the index. */
  private schedulePassive(shard: number, address: string, dueAt: number | undefined): void {
    if (dueAt === undefined) return;
    const horizon = this.options.core.clock.now() + this.horizonMs;
    if (this.index === undefined || dueAt <= horizon) return this.wakeAt(address, dueAt);
    const at = this.later.get(shard);
    if (at === undefined || dueAt < at) {
      this.later.set(shard, dueAt);
      this.armRescan();
    }
  }

  /** Reads the index again when the earliest wake-up left to it comes within the horizon. */
  private armRescan(): void {
    const clock = this.options.core.clock;
    if (this.rescanTimer !== undefined) clock.clearTimeout(this.rescanTimer);
    this.rescanTimer = undefined;
    if (this.stopped || this.later.size === 0) return;
    const next = Math.min(...this.later.values()) - this.horizonMs;
    this.rescanTimer = clock.setTimeout(() => {
      this.rescanTimer = undefined;
      void this.rescan();
    }, Math.max(0, next - clock.now()));
  }

  private async rescan(): Promise<void> {
    const horizon = this.options.core.clock.now() + this.horizonMs;
    const due = [...this.later].filter(([, at]) => at <= horizon).map(([shard]) => shard);
    for (const shard of due) {
      this.later.delete(shard);
      if (this.stopped || !this.consumers.has(shard)) continue; // no longer this node's
      try {
        for (const entry of await this.index!.list(shard)) {
          if (!this.wakes.has(entry.address) && !this.options.core.cell(entry.address)) this.schedulePassive(shard, entry.address, entry.dueAt);
        }
      } catch (error) {
        this.options.logger.warn({ err: toPlainError(error), shard }, 'reading the passive index failed; retrying');
        const retryAt = this.options.core.clock.now() + RESCAN_RETRY_MS + this.horizonMs;
        this.later.set(shard, Math.min(this.later.get(shard) ?? retryAt, retryAt));
      }
    }
    this.armRescan();
  }

  /** Activates a passivated actor at its earliest timer (runtime clock), while this node hosts its shard. */
  private wakeAt(address: string, dueAt: number | undefined): void {
    this.cancelWake(address);
    if (dueAt === undefined) return;
    const clock = this.options.core.clock;
    this.wakes.set(address, clock.setTimeout(() => {
      this.wakes.delete(address);
      if (this.stopped || !this.hosts(address) || this.options.core.cell(address)) return;
      this.cellFor(address).then(
        // No active record (it finished meanwhile without waking here): its index entry goes too.
        (cell) => cell === undefined && !this.options.core.cell(address) ? this.index?.remove(shardOf(address, this.options.log.shards), address, dueAt) : undefined,
      ).catch((error: unknown) => this.options.logger.warn({ err: toPlainError(error), address }, 'waking a passivated actor failed; its next message activates it'));
    }, Math.max(0, dueAt - clock.now())));
  }

  private cancelWake(address: string): void {
    const wake = this.wakes.get(address);
    if (wake === undefined) return;
    this.options.core.clock.clearTimeout(wake);
    this.wakes.delete(address);
  }

  /**
   * Stops consuming `shard` and its actors here. `drain` (a handover): the actors' in-flight writes finish first and
   * what their inboxes still hold goes back to the log at once; `lost` (another node took the shard): they stop now.
   * Their records stay active, for the shard's next owner.
   */
  async releaseShard(shard: number, mode: 'drain' | 'lost', timeoutMs: number): Promise<void> {
    const consumer = this.consumers.get(shard);
    this.consumers.delete(shard);
    this.delivered.delete(shard);
    this.lastDelivery.delete(shard);
    this.later.delete(shard);
    for (const address of [...this.wakes.keys()]) if (shardOf(address, this.options.log.shards) === shard) this.cancelWake(address);
    for (const slot of [...this.slots.values()]) if (slot.shard === shard) this.handBack(slot, 0);
    const cells = [...this.cells].filter((cell) => shardOf(cell.address, this.options.log.shards) === shard && cell.state !== 'stopped');
    if (mode === 'drain') await withTimeout(Promise.all(cells.map((cell) => cell.settled())), timeoutMs);
    await Promise.all(cells.map((cell) => this.options.stopCell?.(cell)));
    for (const cell of cells) this.cells.delete(cell);
    const stop = await consumer?.catch(() => undefined);
    await stop?.();
  }

  /** Whether this node consumes the shard of `address` now. */
  hosts(address: string): boolean {
    const shard = shardOf(address, this.options.log.shards);
    return this.consumers.has(shard) && (this.options.mayHandle?.(shard) ?? true);
  }

  /**
   * Restores every stored actor that is still active (of `shards` when given: those this node just took); returns
   * their addresses. The snapshot store holds only active actors (finished ones move to the finished store,
   * finished-records.ts), so this reads no record of a finished actor — except one whose move a crash cut short,
   * which it moves now. Without `shards`, it then consumes every shard.
   */
  async recover(shards?: ReadonlySet<number>): Promise<string[]> {
    const restored: string[] = [];
    const { store, finished } = this.options;
    const count = this.options.log.shards;
    // The passive index first: the actors it lists stay unloaded, their records unread.
    const passive = new Set<string>();
    for (const shard of this.index ? shards ?? Array.from({ length: count }, (_, i) => i) : []) {
      for (const entry of await this.index!.list(shard)) {
        if (this.options.core.cell(entry.address)) continue;
        passive.add(entry.address);
        this.remember(entry.address);
        this.schedulePassive(shard, entry.address, entry.dueAt);
      }
    }
    this.passiveListed += passive.size;
    // Candidates, not live keys: reading each key back to drop deleted ones would read every passive record too.
    const prefix = snapshotKey(this.options.core.name);
    for (const key of store.keyCandidates ? await store.keyCandidates(prefix) : await store.keys(prefix)) {
      const address = addressOfTokens(key);
      if ((shards && !shards.has(shardOf(address, count))) || passive.has(address)) continue;
      const stored = await store.get(key);
      if (!stored) continue;
      const record = decodeRecord(stored.value);
      if (record.status !== 'active' && finished) {
        await moveToFinished(store, finished, key, stored.value, stored.revision);
        continue;
      }
      if (record.status !== 'active') {
        this.forgetFinished(record.address);
        continue;
      }
      this.remember(record.address);
      if (record.passive && !this.options.core.cell(record.address)) {
        // Unloaded while idle, and not indexed (a crash came between its record and its entry): indexed now.
        await this.indexPassive(record.address, record.timers);
        continue;
      }
      const running = this.options.core.cell(record.address);
      // Started already, from its record, by a delivery of a shard just taken (a message, a repeated spawn request).
      if (running) {
        if (shards) restored.push(record.address);
        continue;
      }
      const cell = await this.cellFor(record.address);
      if (cell instanceof DurableCell) restored.push(record.address);
    }
    this.purgeTombstones();
    if (!shards) await this.start();
    return restored;
  }

  /**
   * Counts messages a stored record covers (acked); past `compactEvery` the log drops what every shard has acked.
   * Best effort: a failure is reported at warn and tried again at the next count past the threshold.
   */
  acked(count: number): void {
    const every = this.options.compactEvery;
    this.ackedSinceCompact += count;
    if (every === undefined || this.ackedSinceCompact < every || this.compacting || this.stopped) return;
    this.ackedSinceCompact = 0;
    this.compacting = this.options.log
      .compact()
      .then(
        () => undefined,
        (error: unknown) => {
          if (!this.stopped) this.options.logger.warn({ err: toPlainError(error) }, 'compacting the durable mailbox failed; retrying later');
        },
      )
      .finally(() => (this.compacting = undefined));
  }

  /** Purges the delete markers moved records leave in the snapshot store (best effort, reported at warn). */
  private purgeTombstones(): void {
    if (!this.options.finished || !this.options.store.purgeDeletes || this.stopped) return;
    this.options.store.purgeDeletes(TOMBSTONE_AGE_MS).catch((error: unknown) => {
      this.options.logger.warn({ err: toPlainError(error) }, 'purging delete markers of the snapshot store failed; retrying in an hour');
    });
  }

  /**
   * Appends `event` to the actor's durable mailbox; resolves once it is stored in the log. `msgId` (a durable
   * sender's deterministic id) makes a re-sent message a duplicate the log drops.
   */
  async send(address: string, event: EventObject, from: string | undefined, reply: ReplyTarget | undefined, msgId?: string, trace?: Context): Promise<AppendResult> {
    this.sentTo(address);
    const id = msgId ?? `${this.options.nodeId}.${++this.counter}`;
    const envelope = eventEnvelope(id, address, event, this.options.core.clock.now(), {
      from, correlationId: reply ? id : undefined, replyTo: reply ? this.replies?.subject : undefined, traceContext: injectContext(trace),
    });
    if (reply) this.asks.set(id, reply);
    const subject = mailboxSubject(this.options.core.name, shardOf(address, this.options.log.shards), address);
    try {
      return await this.appendWithRetry(subject, encodeEnvelope(envelope), id);
    } catch (error) {
      this.asks.delete(id);
      reply?.reject(error as Error);
      this.options.core.deadLetters.record(address, from, event.type, `mailbox log append failed: ${(error as Error).message}`);
      throw error;
    }
  }

  /**
   * A durable spawn on a node that does not hold the actor's shard: the request is stored in the actor's own mailbox,
   * and the shard's owner starts the actor when it reaches it (`spawnRequested`); messages sent after it are the
   * actor's. Resolves once stored. `msgId` makes a repeated request (a retried spawn) one.
   */
  async requestSpawn(request: Omit<SpawnRequest, 'seq'>): Promise<AppendResult> {
    this.remember(request.address);
    const { address, ...spec } = request;
    const id = `spawn.${this.options.nodeId}.${++this.counter}`;
    const envelope = eventEnvelope(id, address, { type: SPAWN_EVENT, ...spec }, this.options.core.clock.now(), { from: SPAWN_EVENT });
    const subject = mailboxSubject(this.options.core.name, shardOf(address, this.options.log.shards), address);
    return this.appendWithRetry(subject, encodeEnvelope(envelope), id);
  }

  /**
   * The shard's owner starts the requested actor here (an actor already running, or whose record exists, resumes:
   * a spawn is idempotent), and acks the request once the actor's first record is stored — a crash before that
   * leaves it for the next owner.
   */
  private spawnRequested(delivery: MailboxDelivery, envelope: EventEnvelope): void {
    const spawnHere = this.options.spawnHere;
    if (!spawnHere) return void this.reject(delivery, 'spawn requests need a clustered node', envelope);
    const spec = envelope.payload as unknown as Omit<SpawnRequest, 'seq' | 'address'>;
    let cell: DurableCell;
    try {
      const existing = this.options.core.cell(envelope.to);
      cell = existing instanceof DurableCell ? existing : spawnHere({ ...spec, address: envelope.to, seq: delivery.seq });
    } catch (error) {
      return void this.reject(delivery, `spawn failed: ${(error as Error).message}`, envelope);
    }
    void cell.ready
      .then(() => cell.settled())
      .then(() => {
        if (cell.storedStatus !== undefined) delivery.ack();
        // Not stored (the node is stopping, the start failed): unacked, the request comes back.
      });
  }

  /** Dead letters stored in the log, oldest first. */
  deadLetters(query?: { readonly fromSeq?: number; readonly limit?: number }): Promise<StoredDeadLetter[]> {
    return this.options.log.deadLetters(query);
  }

  /** Sends a dead letter again to its actor (as a new message; once per dead letter within the dedupe window). */
  async redeliver(dlqSeq: number): Promise<AppendResult> {
    const [entry] = await this.options.log.deadLetters({ fromSeq: dlqSeq, limit: 1 });
    if (!entry || entry.dlqSeq !== dlqSeq) throw new NonRetryableError(`no dead letter with sequence ${dlqSeq}`, { type: 'NoSuchDeadLetter' });
    const target = addressOfSubject(entry.subject);
    if (target) this.sentTo(target.address);
    return this.appendWithRetry(entry.subject, entry.data, `redeliver.${dlqSeq}`);
  }

  /**
   * Appends, retrying retryable failures (a server restart, a leader election) with the same message id, so a
   * retry never stores the message twice; bounded well inside the log's dedupe window (2 minutes by default).
   */
  private async appendWithRetry(subject: string, data: Uint8Array, msgId: string): Promise<AppendResult> {
    const deadline = Date.now() + APPEND_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.options.log.append(subject, data, msgId);
      } catch (error) {
        if (!isRetryable(error) || error instanceof NonRetryableError || Date.now() >= deadline || this.stopped) throw error;
        const delay = backoffDelay(APPEND_BACKOFF, attempt);
        this.options.logger.warn({ err: toPlainError(error), subject, attempt, delayMs: delay }, 'mailbox append failed; retrying with the same message id');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private onDelivery(shard: number, delivery: MailboxDelivery): void {
    if (this.stopped) return; // left unacked: the next start gets it
    // A lease that lapsed on this node's clock (it was paused): the shard may be another node's now. Given back, the
    // message goes to whoever holds the shard (this node too, once its lease is renewed).
    if (this.options.mayHandle && !this.options.mayHandle(shard)) return void delivery.nak(NOT_MINE_RETRY_MS);
    this.checkContinuity(shard, delivery.deliverySeq);
    if (delivery.deliveryCount > 1) this.redeliveries++;
    if (delivery.seq > (this.delivered.get(shard) ?? 0)) this.delivered.set(shard, delivery.seq);
    let envelope: EventEnvelope;
    try {
      envelope = decodeEventEnvelope(delivery.data);
    } catch (error) {
      return void this.reject(delivery, (error as Error).message);
    }
    const target = addressOfSubject(delivery.subject);
    if (!target || target.address !== envelope.to) return void this.reject(delivery, `envelope.to ${envelope.to} does not match the subject`);
    // Subject tokens allow more than address segments do: such an address can never name an actor (and would
    // fail every activation, a redelivery loop), so it is garbage.
    try {
      parseAddress(envelope.to);
    } catch (error) {
      return void this.reject(delivery, (error as Error).message, envelope);
    }
    if (isSpawnRequest(envelope)) return void this.spawnRequested(delivery, envelope);
    this.decoded.set(delivery, envelope);
    this.slotFor(envelope.to, delivery.subject, target.shard).inbox.offer(delivery);
  }

  /** Deliveries lost on the way come back after newer ones: the shard's inboxes stop trusting arrival order. */
  private checkContinuity(shard: number, deliverySeq: number): void {
    const last = this.lastDelivery.get(shard);
    this.lastDelivery.set(shard, deliverySeq);
    if (last === undefined || deliverySeq === last + 1) return;
    for (const slot of this.slots.values()) if (slot.shard === shard) slot.inbox.reorder();
  }

  private slotFor(address: string, subject: string, shard: number): Slot {
    let slot = this.slots.get(address);
    if (slot) return slot;
    const created: Slot = {
      address,
      shard,
      subject,
      cell: undefined,
      inbox: new OrderedInbox({
        next: (after) => this.options.log.next(subject, after),
        room: () => (created.cell ? created.cell.capacity - created.cell.queued : 0),
        release: (entry) => this.release(created, entry),
        covered: (seq) => created.cell?.covers(seq) ?? false,
        stale: (delivery) => void this.reject(delivery, 'sent before this actor existed', this.decoded.get(delivery)),
        deadLetter: (entry, reason, incarnation) => this.writeDeadLetter(entry.delivery, reason, { incarnation }),
        lookupFailed: (error) => {
          this.options.logger.warn({ err: toPlainError(error), address }, 'durable inbox lookup failed; retrying');
          setTimeout(() => created.inbox.pump(), RETRY_LATER_MS).unref();
        },
      }),
    };
    slot = created;
    this.slots.set(address, slot);
    void this.activateSlot(slot);
    return slot;
  }

  /** Activates the slot's actor; retries a store that does not answer; gives up only when there is no actor. */
  private async activateSlot(slot: Slot): Promise<void> {
    let cell: DurableCell | typeof MOVED | undefined;
    try {
      cell = await this.cellFor(slot.address);
    } catch (error) {
      if (this.stopped) return;
      this.options.logger.error({ err: toPlainError(error), address: slot.address }, 'durable activation failed; retrying');
      setTimeout(() => void this.activateSlot(slot), RETRY_LATER_MS).unref();
      return;
    }
    if (this.slots.get(slot.address) !== slot) return;
    if (cell === MOVED) return this.handBack(slot, RETRY_LATER_MS);
    if (!cell) return this.releaseAll(slot, 'no durable actor at this address');
    slot.cell = cell;
    slot.inbox.open(cell.baseSeq);
  }

  /** Hands one message to the actor, in its turn. */
  private release(slot: Slot, entry: InboxEntry): boolean {
    const cell = slot.cell!;
    const envelope = this.envelopeOf(entry);
    if (!envelope) {
      void this.reject(entry.delivery, 'undecodable message', undefined, undefined, entry);
      return true;
    }
    if (isSpawnRequest(envelope)) {
      cell.skipInOrder(entry); // the actor exists: a repeated spawn changes nothing
      return true;
    }
    const reply = this.replyOf(envelope);
    if (envelope.correlationId !== undefined) this.asks.delete(envelope.correlationId);
    const event: EventObject = envelope.payload;
    const accepts = cell.logic.accepts;
    if (accepts !== undefined && !accepts(event.type)) {
      const reason = `unhandled event type ${event.type}`;
      this.rejected++;
      this.options.core.deadLetters.record(slot.address, envelope.from, event.type, reason);
      reply?.reject(new DeadLetterError(slot.address, reason));
      cell.rejectInOrder(entry, reason);
      return true;
    }
    const traced = extractContext(envelope.traceContext);
    const outcome = cell.enqueue(traced === undefined ? { event, from: envelope.from, reply, receipt: entry } : { event, from: envelope.from, reply, receipt: entry, trace: traced });
    if (outcome === 'queued') return true;
    if (reply && envelope.correlationId !== undefined) this.asks.set(envelope.correlationId, reply);
    return false; // closing (a shutdown): left unacked for the next start
  }

  private envelopeOf(entry: InboxEntry): EventEnvelope | undefined {
    const cached = this.decoded.get(entry.delivery);
    if (cached) return cached;
    try {
      const envelope = decodeEventEnvelope(entry.delivery.data);
      return envelope.to === addressOfSubject(entry.delivery.subject)?.address ? envelope : undefined;
    } catch {
      return undefined;
    }
  }

  /** A fresh actor's birth sequence (see `delivered`); 0 before its shard delivered anything to this node. */
  birthFor(address: string): number {
    return this.delivered.get(shardOf(address, this.options.log.shards)) ?? 0;
  }

  /**
   * The actor at `address` stopped here because its shard's lease was not this node's when it started or wrote (a
   * lease taken by another node, or lapsed while this one was too busy to renew it). Its inbox must not outlive it:
   * deliveries queued for the stopped actor would wait for ever, kept in progress. They go back to the stream, after a
   * second (a lapsed lease comes back at a renewal), and find a new actor on whichever node holds the shard.
   */
  shardMoved(address: string): void {
    const slot = this.slots.get(address);
    if (slot === undefined || this.stopped || slot.cell?.state !== 'stopped') return; // a newer actor has it, or none yet
    this.handBack(slot, RETRY_LATER_MS);
  }

  /** The slot's deliveries go back to the stream (redelivered after `delayMs`), for whichever node holds the shard. */
  private handBack(slot: Slot, delayMs: number): void {
    this.slots.delete(slot.address);
    slot.inbox.close();
    for (const entry of slot.inbox.drainPending()) entry.delivery.nak(delayMs);
  }

  /** Lets the actor's inbox release more (its mailbox has room again). */
  pump(address: string): void {
    this.slots.get(address)?.inbox.pump();
  }

  /** The actor ended for good: what its inbox still holds goes to the dead-letter stream. */
  finished(address: string, status: DurableStatus): void {
    this.forgetFinished(address);
    const slot = this.slots.get(address);
    if (!slot) return;
    this.slots.delete(address);
    slot.inbox.close();
    for (const entry of slot.inbox.drainPending()) void this.reject(entry.delivery, `actor ${status}`, this.decoded.get(entry.delivery), undefined, entry);
  }

  private releaseAll(slot: Slot, reason: string): void {
    this.slots.delete(slot.address);
    slot.inbox.close();
    for (const entry of slot.inbox.drainPending()) {
      const envelope = this.envelopeOf(entry);
      void this.reject(entry.delivery, reason, envelope, this.replyOf(envelope), entry);
    }
  }

  /**
   * The most recently finished actors' final records (done, stopped, failed), newest first: from the finished store
   * when there is one, else from the records store. Reads at most `scan` keys (the stores keep no time order).
   */
  async finishedRecords(limit: number, scan = 2_000): Promise<DurableRecord[]> {
    const source = this.options.finished ?? this.options.store;
    const keys = (await source.keys(snapshotKey(this.options.core.name))).slice(0, scan);
    const records: DurableRecord[] = [];
    // Read 64 at a time: a page opening lists them, and one round trip per record would take seconds.
    for (let i = 0; i < keys.length; i += 64) {
      for (const stored of await Promise.all(keys.slice(i, i + 64).map((key) => source.get(key).catch(() => undefined)))) {
        if (!stored) continue;
        try {
          const record = decodeRecord(stored.value);
          if (record.status !== 'active') records.push(record);
        } catch {
          // an undecodable record is not listed (recover() reports it)
        }
      }
    }
    return records.sort((a, b) => b.updatedAt - a.updatedAt).slice(0, limit);
  }

  /** Whether an active (or passivated) record of `address` is stored: the actor runs, or wakes on its next message. */
  async isStored(address: string): Promise<boolean> {
    const stored = await this.options.store.get(snapshotKey(address));
    return !!stored && decodeRecord(stored.value).status === 'active';
  }

  /**
   * The running actor at `address`, activated from its record if need be; undefined when there is none (never
   * spawned, or ended for good); MOVED when it stopped here because its shard's lease was not this node's, so its
   * messages are another node's to handle (or this one's again, once its lease is renewed), not dead letters.
   */
  private async cellFor(address: string): Promise<DurableCell | typeof MOVED | undefined> {
    this.cancelWake(address); // activated now, by a message or its timer
    const existing = this.options.core.cell(address);
    if (existing instanceof DurableCell) {
      await existing.ready;
      return runningOrWhy(existing);
    }
    if (existing) return undefined;
    let pending = this.activating.get(address);
    if (!pending) {
      pending = this.activateFromStore(address).finally(() => this.activating.delete(address));
      this.activating.set(address, pending);
    }
    return pending;
  }

  private async activateFromStore(address: string): Promise<DurableCell | typeof MOVED | undefined> {
    const stored = await this.options.store.get(snapshotKey(address));
    if (!stored) return undefined;
    const record = decodeRecord(stored.value);
    if (record.status !== 'active') return undefined;
    if (await this.finishedAlready(snapshotKey(address), record, stored.revision)) return undefined;
    const again = this.options.core.cell(address); // spawned while we read
    if (again instanceof DurableCell) return again;
    // Out of the passive index before its record can be written active again (passive-index.ts).
    if (record.passive) await this.index?.remove(shardOf(address, this.options.log.shards), address, earliestDue(record.timers));
    const cell = this.options.activate(record);
    await cell.ready;
    return runningOrWhy(cell);
  }

  /** An active record a newer final one supersedes (a finish cut short): its delete is finished here. */
  private finishedAlready(key: string, record: DurableRecord, revision: number): Promise<boolean> {
    return finishSuperseded(this.options.store, this.options.finished, key, record, revision, (error) => {
      this.options.logger.warn({ err: toPlainError(error), key }, 'deleting a superseded active record failed; the next recover() tries again');
    });
  }

  /** Dead-letters a message (bounded retry while the node runs), then settles it: never lost, never retried. */
  private async reject(delivery: MailboxDelivery, reason: string, envelope?: EventEnvelope, reply?: ReplyTarget, entry?: InboxEntry): Promise<void> {
    this.rejected++;
    const to = envelope?.to ?? addressOfSubject(delivery.subject)?.address ?? delivery.subject;
    this.options.core.deadLetters.record(to, envelope?.from, envelope?.type ?? '?', reason);
    if (envelope?.correlationId !== undefined) this.asks.delete(envelope.correlationId);
    reply?.reject(new DeadLetterError(to, reason));
    try {
      await this.writeDeadLetter(delivery, reason, {});
    } catch {
      return; // the node stopped first: left unacked, the next start sees it again
    }
    if (entry) entry.ack();
    else delivery.term();
  }

  /** Writes to the dead-letter stream, retrying while this node runs (the message stays unacked meanwhile). */
  private async writeDeadLetter(delivery: MailboxDelivery, reason: string, detail: DeadLetterDetail): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.options.log.deadLetter(delivery.subject, delivery.data, reason, detail);
      } catch (error) {
        if (this.stopped) throw error;
        const delayMs = backoffDelay(APPEND_BACKOFF, attempt);
        this.options.logger.warn({ err: toPlainError(error), subject: delivery.subject, attempt, delayMs }, 'dead-letter write failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }

  /** The mailbox shards this node consumes, ascending. */
  consumedShards(): number[] {
    return this.stopped ? [] : [...this.consumers.keys()].sort((a, b) => a - b);
  }

  /** Stops consuming; waits (at most `timeoutMs`) for the last writes of every durable cell. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    this.replies?.stop();
    clearInterval(this.keepAlive);
    clearInterval(this.tombstones);
    clearInterval(this.sweeper);
    for (const address of [...this.wakes.keys()]) this.cancelWake(address);
    this.later.clear();
    this.armRescan(); // clears it
    for (const slot of this.slots.values()) slot.inbox.close();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.all([...this.cells].map((cell) => cell.settled())), bound]);
    clearTimeout(timer);
    const consumers = [...this.consumers.values()];
    this.consumers.clear();
    await Promise.all(consumers.map(async (started) => (await started.catch(() => undefined))?.()));
    for (const reply of this.asks.values()) reply.reject(new DeadLetterError('durable mailbox', 'system stopped before the message was handled'));
    this.asks.clear();
  }
}

/** `cellFor`'s answer for a cell once ready: the cell while it runs, else MOVED or undefined (see there). */
function runningOrWhy(cell: DurableCell): DurableCell | typeof MOVED | undefined {
  return cell.moved ? MOVED : cell.state === 'stopped' ? undefined : cell;
}

/** Resolves when `work` settles or `ms` passed, whichever comes first. */
async function withTimeout(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([work.then(() => undefined, () => undefined), bound]);
  clearTimeout(timer);
}

/** A spawn request (durable-node `requestSpawn`), not a message for the actor. */
function isSpawnRequest(envelope: EventEnvelope): boolean {
  return envelope.type === SPAWN_EVENT && envelope.from === SPAWN_EVENT;
}
