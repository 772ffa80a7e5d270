/**
 * A durable actor: an actor cell whose state survives process death. Messages reach it through the durable
 * mailbox log; at each durable point (a handled message, or any other snapshot change such as a step's
 * completion) it writes its record with the expected revision, and only then acks the messages and sends the
 * replies that record reflects. Writes are coalesced: at most one in flight per actor, the next one carries
 * the latest snapshot, so a burst of macrosteps costs one write, not one each.
 *
 * Recovery is snapshot + redelivery: restore the record, reschedule its timers, let the log redeliver what was
 * not acked (anything at or below `lastSeq` is dropped as already handled). A restart by the supervisor also
 * starts from the last persisted record, and messages handled since then are asked again from the log.
 */
import type { AnyActor, Snapshot } from 'xstate';
import { CodecError, isRetryable, toPlainError } from '../errors.js';
import type { SnapshotStore } from '../persistence/snapshot-store.js';
import { ActorCell, type CellOptions } from '../system/actor-cell.js';
import type { CellHost } from '../system/cell-host.js';
import type { Clock } from '../system/clock.js';
import type { Message, Receipt, ReplyTarget } from '../system/message.js';
import type { RestartMode } from '../system/parent.js';
import { decodeRecord, encodeRecord, RECORD_VERSION, snapshotForLogic, type DurableRecord, type DurableStatus, type PersistedTimer } from './durable-record.js';
import { pendingTimers, rescheduleTimers, TimerStampingClock } from './timer-clock.js';

export interface DurableServices {
  readonly store: SnapshotStore;
  readonly key: string;
  /** Delay before retrying a failed write (store unreachable), by attempt. */
  retryDelayMs(attempt: number): number;
  /** Counts writes, for metrics and the benchmark. */
  onWrite?(bytes: number): void;
}

interface PendingReply {
  readonly target: ReplyTarget;
  readonly payload: unknown;
}

export class DurableCell extends ActorCell {
  /** The last log sequence handled by this cell (persisted or not). */
  lastSeq = 0;
  /** Resolves when the first incarnation has started (restored or fresh). */
  readonly ready: Promise<void>;
  private markReady!: () => void;
  private revision: number | null = null;
  private persisted: DurableRecord | undefined;
  private clock: TimerStampingClock | undefined;
  private latest: AnyActor | undefined;
  private dirty = false;
  private writing: Promise<void> | undefined;
  private receipts: Receipt[] = [];
  private replies: PendingReply[] = [];
  private explicitlyStopped = false;

  constructor(
    host: CellHost,
    options: CellOptions,
    private readonly services: DurableServices,
  ) {
    super(host, options);
    this.ready = new Promise((resolve) => (this.markReady = resolve));
  }

  /** Loads the stored record (if any) before the first incarnation starts; messages queue meanwhile. */
  override start(): void {
    this.state = 'held';
    void this.load().then(
      (snapshot) => {
        if (this.state === 'stopped') return this.markReady();
        this.state = 'running';
        super.start(snapshot);
        this.resumeDrain();
        this.markReady();
      },
      (error: unknown) => {
        this.state = 'running';
        this.failWith('start-error', error);
        this.markReady();
      },
    );
  }

  private async load(): Promise<Snapshot<unknown> | undefined> {
    const record = await this.reload();
    if (record === undefined) return undefined;
    this.incarnation = record.incarnation;
    return snapshotForLogic(record, this.logic) as Snapshot<unknown>;
  }

  private async reload(): Promise<DurableRecord | undefined> {
    const stored = await this.services.store.get(this.services.key);
    if (stored === undefined) return undefined;
    const record = decodeRecord(stored.value);
    this.revision = stored.revision;
    this.persisted = record;
    this.lastSeq = record.lastSeq;
    return record;
  }

  /** The status the stored record says, once loaded. */
  get storedStatus(): DurableStatus | undefined {
    return this.persisted?.status;
  }

  protected override incarnationClock(): Clock {
    return (this.clock = new TimerStampingClock(this.host.clock));
  }

  protected override incarnationStarted(actor: AnyActor, restored: boolean): void {
    this.clock?.bind(actor);
    if (restored && this.persisted) rescheduleTimers(actor, this.persisted.timers, this.host.clock.now());
    this.latest = actor;
    // A fresh actor's first durable point is its initial state; a restored one is already stored.
    if (!restored) this.markDirty();
  }

  protected override handled(message: Message, actor: AnyActor): void {
    this.latest = actor;
    if (message.receipt) {
      if (message.receipt.seq > this.lastSeq) this.lastSeq = message.receipt.seq;
      this.receipts.push(message.receipt);
    }
    this.markDirty();
  }

  protected override snapshotChanged(_snapshot: Snapshot<unknown>): void {
    this.latest = this.incarnationActor ?? this.latest;
    this.markDirty();
  }

  /** A durable actor answers only once the snapshot that reflects the request is persisted. */
  protected override sendReply(target: ReplyTarget, payload: unknown): void {
    try {
      this.replies.push({ target, payload: this.host.checkPayload(payload) });
    } catch (error) {
      target.reject(error as Error);
    }
    this.markDirty();
  }

  /** A restart starts from the last persisted record; messages handled since are asked again from the log. */
  protected override restartSnapshot(_mode: RestartMode): Snapshot<unknown> | undefined {
    this.lastSeq = this.persisted?.lastSeq ?? 0;
    const unpersisted = this.receipts;
    this.receipts = [];
    for (const receipt of unpersisted) receipt.nak();
    for (const { target } of this.replies.splice(0)) target.reject(new Error(`actor ${this.address} restarted before its answer was persisted`));
    return this.persisted ? (snapshotForLogic(this.persisted, this.logic) as Snapshot<unknown>) : undefined;
  }

  override async stop(notifyParent: boolean): Promise<void> {
    // An explicit stop is final and recorded; a shutdown keeps the actor active for the next start.
    if (notifyParent) this.explicitlyStopped = true;
    await super.stop(notifyParent);
    if (this.explicitlyStopped) this.markDirty();
    await this.flushed();
  }

  /** Resolves once every write started so far has finished. */
  async flushed(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /**
   * Starts (or extends) the write loop on a microtask, never synchronously: a message's handling emits its
   * snapshot, its reply and then `handled()` in one synchronous run, and the write must carry all three —
   * a write of the new state without the message's `lastSeq` would let a redelivery apply it twice.
   */
  private markDirty(): void {
    this.dirty = true;
    this.writing ??= Promise.resolve().then(() => this.writeLoop());
  }

  private async writeLoop(): Promise<void> {
    let attempt = 0;
    while (this.dirty) {
      this.dirty = false;
      const actor = this.latest;
      if (actor === undefined) break;
      // Never persist a failed or shut-down incarnation: a restart or the next start resumes from the last good record.
      const status = actor.getSnapshot().status;
      if (status === 'error' || (status === 'stopped' && !this.explicitlyStopped)) break;
      const receipts = this.receipts;
      const replies = this.replies;
      this.receipts = [];
      this.replies = [];
      const record = this.recordOf(actor);
      const bytes = encodeRecord(record);
      try {
        const result = await this.services.store.put(this.services.key, bytes, this.revision);
        this.services.onWrite?.(bytes.byteLength);
        if (!result.ok) {
          // Someone else wrote this actor's record since we read it: this incarnation is stale (fenced).
          // Reload what is stored, then fail: the supervisor's restart resumes from the stored record.
          const fencedAt = this.revision;
          await this.reload();
          this.writing = undefined;
          for (const { target } of replies) target.reject(new Error(`durable write of ${this.address} was fenced`));
          for (const receipt of receipts) receipt.nak();
          this.failWith('persistence-error', new Error(`durable write of ${this.address} was fenced: record changed since revision ${String(fencedAt)}`));
          return;
        }
        attempt = 0;
        this.revision = result.revision;
        this.persisted = record;
        for (const receipt of receipts) receipt.ack();
        for (const { target, payload } of replies) target.resolve(payload);
      } catch (error) {
        if (!isRetryable(error) || error instanceof CodecError) {
          // The record itself cannot be stored (e.g. larger than the server accepts): retrying cannot help, and
          // truncating would lose state. Fail loudly; the supervisor decides, from the last stored record.
          this.writing = undefined;
          for (const receipt of receipts) receipt.nak();
          for (const { target } of replies) target.reject(error as Error);
          this.log.error({ err: toPlainError(error), bytes: bytes.byteLength }, 'durable record cannot be stored');
          this.failWith('persistence-error', error);
          return;
        }
        // The store is unreachable: keep everything pending and try again; nothing is acked meanwhile.
        this.receipts.unshift(...receipts);
        this.replies.unshift(...replies);
        this.dirty = true;
        const delay = this.services.retryDelayMs(++attempt);
        this.log.warn({ err: toPlainError(error), attempt, delayMs: delay }, 'durable write failed; retrying');
        await new Promise<void>((resolve) => this.host.clock.setTimeout(resolve, delay));
      }
    }
    this.writing = undefined;
  }

  private recordOf(actor: AnyActor): DurableRecord {
    const snapshot = actor.getSnapshot() as Snapshot<unknown>;
    const status: DurableStatus = this.explicitlyStopped ? 'stopped' : snapshot.status === 'done' ? 'done' : 'active';
    const timers: PersistedTimer[] = status === 'active' ? pendingTimers(actor) : [];
    return {
      v: RECORD_VERSION,
      address: this.address,
      parent: this.parent.address,
      logic: this.logic.name,
      version: this.logic.version,
      restart: this.restartType,
      input: this.inputValue,
      snapshot: actor.getPersistedSnapshot(),
      status,
      lastSeq: this.lastSeq,
      timers,
      incarnation: this.incarnation,
      updatedAt: this.host.clock.now(),
    };
  }
}
