/**
 * A durable actor: an actor cell whose state survives process death. Messages reach it in sequence order through
 * its ordered inbox (ordered-inbox.ts); at each durable point (a handled message, or any other snapshot change
 * such as a step's completion) it writes its record with the expected revision, and only then acks the messages
 * and sends the replies that record reflects. Writes are coalesced: at most one in flight per actor, the next one
 * carries the latest snapshot, so a burst of macrosteps costs one write, not one each.
 *
 * Recovery is snapshot + redelivery: restore the record, reschedule its timers, and let the inbox hand over what
 * the record does not cover. A restart by the supervisor also starts from the last persisted record: the messages
 * its failed incarnation applied but did not persist go back to the head of the mailbox, in order, minus the one
 * that failed, which goes to the dead-letter stream (issue 8).
 */
import type { AnyActor, Snapshot } from 'xstate';
import { CodecError, isRetryable, RetryableError, ShardMovedError, toPlainError } from '../errors.js';
import type { SnapshotStore } from '../persistence/snapshot-store.js';
import { ActorCell, type CellOptions } from '../system/actor-cell.js';
import type { CellHost } from '../system/cell-host.js';
import type { Clock } from '../system/clock.js';
import type { Message, Receipt, ReplyTarget } from '../system/message.js';
import type { RestartMode, StopReason } from '../system/parent.js';
import { finishSuperseded, moveToFinished } from './finished-records.js';
import { decodeRecord, encodeRecord, RECORD_VERSION, snapshotForLogic, type DurableRecord, type DurableStatus, type PersistedTimer } from './durable-record.js';
import { pendingTimers, rescheduleTimers, TimerStampingClock } from './timer-clock.js';

/** Restart times kept in a record: more than any sensible intensity limit. */
const MAX_RESTART_TIMES = 32;

export interface DurableServices {
  readonly store: SnapshotStore;
  /** Where a final record moves (finished-records.ts); without it, final records stay in `store`. */
  readonly finished?: SnapshotStore;
  readonly key: string;
  /** Delay before retrying a failed write (store unreachable), by attempt. */
  retryDelayMs(attempt: number): number;
  /** True once the system is closing its backends: a failing write is not retried any more. */
  closing(): boolean;
  /** Counts writes, for metrics and the benchmark. */
  /** A record write ended (`ms`: how long the store took). */
  onWrite?(bytes: number, ms: number): void;
  /** Counts deletes of active records (a finished actor's), likewise. */
  onDelete?(): void;
  /** The actor stopped for good (done, stopped, failed): the node releases what it still holds for it. */
  onFinal?(status: DurableStatus): void;
  /** The actor stopped here because its shard's lease was not this node's ('its shard moved'), not for good. */
  onShardMoved?(): void;
  /** The mailbox has room again: the node's inbox may release more. */
  onRoom?(): void;
  /** Log messages acked because a stored record now covers them (the node compacts the log now and then). */
  onAcked?(count: number): void;
  /**
   * The lease epoch under which this node hosts the actor's shard (clustered nodes; undefined: it does not hold the
   * shard now). Without it (one host), records carry no epoch.
   */
  epoch?(): number | undefined;
  /** The shard of this actor, for errors. */
  readonly shard?: number;
}

interface PendingReply {
  readonly target: ReplyTarget;
  readonly payload: unknown;
}

export class DurableCell extends ActorCell {
  /** Resolves when the first incarnation has started (restored or fresh). */
  readonly ready: Promise<void>;
  private markReady!: () => void;
  private revision: number | null = null;
  /** Activated from a stored record its node already checked (durable-node `activateFromStore`), not spawned. */
  activated = false;
  /** True once the stored record (or its absence) has been read. */
  private loaded = false;
  private persisted: DurableRecord | undefined;
  /** The stored bytes of `persisted` when this incarnation wrote it: the finished store gets exactly these. */
  private persistedBytes: Uint8Array | undefined;
  /** A fresh actor's first sequence floor (see bornAfter). */
  private birthSeq = 0;
  /** The last log sequence applied by the current incarnation (persisted or not). */
  private appliedSeq = 0;
  /** Outbound tells emitted since `appliedSeq` (the index of the next deterministic message id). */
  private outIndex = 0;
  private clock: TimerStampingClock | undefined;
  private latest: AnyActor | undefined;
  private dirty = false;
  private writing: Promise<void> | undefined;
  /** Messages applied since the last write started: acked once a write covers them. */
  private applied: Message[] = [];
  private replies: PendingReply[] = [];
  /** Dead-lettered messages above `appliedSeq` not yet covered by a persisted record, and their receipts. */
  private deadSeqs: number[] = [];
  private deadReceipts: Receipt[] = [];
  private finalStatus: DurableStatus | undefined;
  /** Restart times of this actor (runtime clock), persisted for durable supervision. */
  private restartTimes: readonly number[] = [];
  /** Settles with the first stored record whose status is final, or undefined when the cell stopped without one. */
  private finalStored: { promise: Promise<DurableRecord | undefined>; settle: (record: DurableRecord | undefined) => void } | undefined;

  constructor(
    host: CellHost,
    options: CellOptions,
    private readonly services: DurableServices,
  ) {
    super(host, options);
    this.ready = new Promise((resolve) => (this.markReady = resolve));
    this.stored = new Promise((resolve) => (this.markStored = resolve));
  }

  private startCalled = false;
  /**
   * Settles once the actor exists in the store: its record was there at start, or its first write landed (or it
   * stopped without one). A new actor that only ran in memory is lost with its process, so `ref.ready` waits for this.
   */
  private readonly stored: Promise<void>;
  private markStored!: () => void;

  /** The record was read and the first incarnation started, and the actor is stored (a spawn survives a crash from here). */
  override whenReady(): Promise<void> {
    return this.ready.then(() => this.stored);
  }

  /** Loads the stored record (if any) before the first incarnation starts; messages queue meanwhile. */
  override start(): void {
    this.startCalled = true;
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
        if (error instanceof ShardMovedError && this.state !== 'stopped') {
          // Another node runs this actor now: not a failure of the actor, so no restart; this incarnation just ends.
          this.log.warn({ err: toPlainError(error) }, 'durable actor not started here: its shard moved');
          this.state = 'running';
          this.markReady();
          this.stopAsMoved();
          return;
        }
        if (this.state !== 'stopped') {
          this.state = 'running';
          this.failWith('start-error', error);
        }
        this.markReady();
      },
    );
  }

  private async load(): Promise<Snapshot<unknown> | undefined> {
    const stored = await this.readRecord();
    const record = stored && (await this.fence(stored));
    this.loaded = true;
    if (record === undefined) return undefined;
    this.markStored();
    this.incarnation = record.incarnation;
    return snapshotForLogic(record, this.logic) as Snapshot<unknown>;
  }

  /** Clustered: why this node no longer hosts the actor (its lease is gone, or a newer owner wrote the record). */
  private movedAway(): ShardMovedError | undefined {
    const epochOf = this.services.epoch;
    if (epochOf === undefined) return undefined;
    const epoch = epochOf();
    const shard = this.services.shard ?? -1;
    if (epoch === undefined) return new ShardMovedError(this.address, shard, 'this node holds no lease on it');
    const stored = this.persisted?.epoch ?? 0;
    return stored > epoch ? new ShardMovedError(this.address, shard, `its record was written under epoch ${stored}, this node holds epoch ${epoch}`) : undefined;
  }

  /**
   * Clustered (issue 9): a node hosts the actor only under its current shard lease. A record written under a newer
   * epoch means this node is stale (ShardMovedError); one written under an older epoch is first rewritten with this
   * node's epoch, by CAS over the revision read, so the older owner's next write is refused (fenced) whatever it
   * still holds in memory.
   */
  private async fence(record: DurableRecord): Promise<DurableRecord> {
    const epochOf = this.services.epoch;
    if (epochOf === undefined) return record;
    const epoch = epochOf();
    const shard = this.services.shard ?? -1;
    if (epoch === undefined) throw new ShardMovedError(this.address, shard, 'this node holds no lease on it');
    const stored = record.epoch ?? 0;
    if (stored > epoch) throw new ShardMovedError(this.address, shard, `its record was written under epoch ${stored}, this node holds epoch ${epoch}`);
    if (stored === epoch) return record;
    const claimed: DurableRecord = { ...record, epoch };
    const bytes = encodeRecord(claimed);
    const started = performance.now();
    const result = await this.services.store.put(this.services.key, bytes, this.revision);
    if (!result.ok) throw new ShardMovedError(this.address, shard, 'its record changed while this node took it over');
    this.services.onWrite?.(bytes.byteLength, performance.now() - started);
    this.revision = result.revision;
    this.persisted = claimed;
    this.persistedBytes = bytes;
    return claimed;
  }

  /**
   * Reads the stored record, retrying a transient store error (a leader election, a restarting server) while the
   * system runs: an actor must not start fresh, nor spend its restart intensity, because a read failed once.
   */
  private async readRecord(): Promise<DurableRecord | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.reload();
      } catch (error) {
        if (!isRetryable(error) || error instanceof CodecError || this.services.closing() || this.state === 'stopped') throw error;
        this.log.warn({ err: toPlainError(error), attempt }, 'reading the durable record failed; retrying');
        await new Promise<void>((resolve) => this.host.clock.setTimeout(resolve, this.services.retryDelayMs(attempt)));
      }
    }
  }

  private async reload(): Promise<DurableRecord | undefined> {
    const stored = await this.services.store.get(this.services.key);
    if (stored === undefined) return undefined;
    const record = decodeRecord(stored.value);
    this.revision = stored.revision;
    this.persistedBytes = stored.value;
    // A finished actor's record whose move was cut short (finished-records.ts): the move is finished here, and
    // spawning the address again starts a fresh actor.
    const { finished, store, key } = this.services;
    if (record.status !== 'active' && finished && this.persisted === undefined) {
      await moveToFinished(store, finished, key, stored.value, stored.revision);
      this.revision = null;
      return undefined;
    }
    // An active record a newer final one supersedes (the finish was cut short before its delete): finished.
    if (finished && this.persisted === undefined && !this.activated && (await finishSuperseded(store, finished, key, record, stored.revision))) {
      this.revision = null;
      return undefined;
    }
    this.persisted = record;
    if (this.restartTimes.length === 0) this.restartTimes = record.restarts ?? [];
    this.resetToPersisted();
    return record;
  }

  private resetToPersisted(): void {
    // A stored record's birth is its own (0 when it has none): a spawn that resumes it does not move it.
    if (this.persisted) this.birthSeq = this.persisted.birth ?? 0;
    this.appliedSeq = this.persisted?.lastSeq ?? this.birthSeq;
    this.outIndex = this.persisted?.out ?? 0;
    // The stored dead letters above lastSeq stay settled in every later record (a write must not forget them).
    const dead = new Set([...(this.persisted?.dead ?? []), ...this.deadSeqs]);
    this.deadSeqs = [...dead].filter((seq) => seq > this.appliedSeq).sort((a, b) => a - b);
  }

  /**
   * The record that ends this actor (done, stopped, failed) once it is stored; undefined when this cell stops
   * without one (a shutdown, another process took over): then only the store can tell.
   */
  whenFinalStored(): Promise<DurableRecord | undefined> {
    if (this.persisted !== undefined && this.persisted.status !== 'active') return Promise.resolve(this.persisted);
    if (this.state === 'stopped' && this.stopWork === undefined) return Promise.resolve(undefined);
    if (this.finalStored === undefined) {
      let settle!: (record: DurableRecord | undefined) => void;
      const promise = new Promise<DurableRecord | undefined>((resolve) => (settle = resolve));
      this.finalStored = { promise, settle };
    }
    return this.finalStored.promise;
  }

  /** The status the stored record says, once loaded. */
  get storedStatus(): DurableStatus | undefined {
    return this.persisted?.status;
  }

  /** The restart times the stored record carries (durable supervision). */
  get storedRestarts(): readonly number[] {
    return this.persisted?.restarts ?? [];
  }

  /** Where the actor's inbox starts: the stored record's last sequence, or for a fresh actor its birth sequence. */
  get baseSeq(): number {
    return this.persisted?.lastSeq ?? this.appliedSeq;
  }

  /**
   * A fresh actor owns no message at or below `seq` (the highest log sequence its node had seen at the spawn):
   * older messages on its subject belong to an earlier actor of the same address. Called before `start`.
   */
  bornAfter(seq: number): void {
    this.birthSeq = seq;
    this.appliedSeq = seq;
  }

  /** True when the persisted record covers `seq`: applied (above the actor's birth), or settled as a dead letter. */
  covers(seq: number): boolean {
    const record = this.persisted;
    if (record === undefined) return false;
    return (seq > (record.birth ?? 0) && seq <= record.lastSeq) || (record.dead?.includes(seq) ?? false);
  }

  protected override incarnationClock(): Clock {
    return (this.clock = new TimerStampingClock(this.host.clock));
  }

  /** Binds the timer clock before start, so timers scheduled by the initial state are stamped too. */
  protected override incarnationCreated(actor: AnyActor): void {
    this.clock?.bind(actor);
  }

  /** The record's timers, as the logic reads them now (a workflow stored in an earlier layout renames them). */
  private persistedTimers(record: DurableRecord): readonly PersistedTimer[] {
    const restoreTimer = (this.logic.logic as { troupeRestoreTimer?: (timer: PersistedTimer) => PersistedTimer }).troupeRestoreTimer;
    return restoreTimer === undefined ? record.timers : record.timers.map(restoreTimer);
  }

  protected override incarnationStarted(actor: AnyActor, restored: boolean): void {
    if (restored && this.persisted) rescheduleTimers(actor, this.persistedTimers(this.persisted), this.host.clock.now());
    this.latest = actor;
    this.lastActive = this.host.clock.now();
    // A fresh actor's first durable point is its initial state. A restarted one is written too: the messages it
    // dead-lettered must be covered by a stored record before they are acked.
    if (!restored || this.incarnation > (this.persisted?.incarnation ?? 0)) this.markDirty();
  }

  protected override handled(message: Message, actor: AnyActor): void {
    this.latest = actor;
    this.lastActive = this.host.clock.now();
    if (message.receipt) {
      this.enterInput(message.receipt.seq);
      this.applied.push(message);
    }
    this.markDirty();
  }

  protected override snapshotChanged(snapshot: Snapshot<unknown>): void {
    this.lastActive = this.host.clock.now();
    if (snapshot.status === 'done') this.markFinal('done');
    this.latest = this.incarnationActor ?? this.latest;
    this.markDirty();
  }

  /**
   * Tells emitted while handling message `seq` are `<address>:<seq>:<index>`: a re-run after a crash (or a restart)
   * emits the same ids, and the log's duplicate window drops the repeats.
   */
  protected override outboundId(): string {
    const receipt = this.currentMessage?.receipt;
    if (receipt) this.enterInput(receipt.seq);
    return `${this.address}:${this.appliedSeq}:${this.outIndex++}`;
  }

  /** Applying input `seq`: outbound indexes start again at 0 (once per input, whoever sees it first). */
  private enterInput(seq: number): void {
    if (seq === this.appliedSeq) return;
    this.appliedSeq = seq;
    this.outIndex = 0;
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

  /** The failed message goes to the dead-letter stream, and is acked once a stored record says it is settled. */
  protected override messageFailed(message: Message): void {
    const receipt = message.receipt;
    if (receipt) this.settleDead(receipt, `handler failed in incarnation ${this.incarnation}`);
  }

  /**
   * A message settled in its turn without being applied or dead-lettered (a spawn request for an actor that already
   * exists): the next record lists it as settled, then it is acked.
   */
  skipInOrder(receipt: Receipt): void {
    const seq = receipt.seq;
    if (seq > this.appliedSeq && !this.deadSeqs.includes(seq)) this.deadSeqs.push(seq);
    this.deadReceipts.push(receipt);
    this.markDirty();
  }

  /** A message of a type the logic never handles, in its turn: dead-lettered, never applied. */
  rejectInOrder(receipt: Receipt, reason: string): void {
    this.settleDead(receipt, reason);
  }

  private settleDead(receipt: Receipt, reason: string): void {
    const seq = receipt.seq;
    if (seq > this.appliedSeq && !this.deadSeqs.includes(seq)) this.deadSeqs.push(seq);
    receipt.deadLetter(reason, this.incarnation).then(
      () => {
        this.deadReceipts.push(receipt);
        this.markDirty();
      },
      (error: unknown) => this.log.warn({ err: toPlainError(error), seq }, 'dead-letter write failed; the message stays unacked'),
    );
  }

  protected override messageDropped(message: Message): void {
    // A final stop settles what is still queued as dead letters; a shutdown leaves it for the next start.
    if (this.finalStatus !== undefined && message.receipt) void message.receipt.deadLetter('actor stopped', this.incarnation).then(() => message.receipt!.ack());
  }

  protected override drained(): void {
    this.services.onRoom?.();
  }

  /** The runtime-clock time of its last message or state change. */
  private lastActive = 0;

  /**
   * Since when this actor has been idle — running, nothing queued, nothing being written or owed, and no invoked
   * work in flight (a step's promise) — or undefined while it is busy. Only an idle actor can be passivated: its
   * record then says everything it is.
   */
  idleSince(): number | undefined {
    const actor = this.latest;
    if (this.state !== 'running' || actor === undefined || this.queued > 0 || this.writing || this.dirty) return undefined;
    if (this.applied.length > 0 || this.replies.length > 0 || this.deadReceipts.length > 0 || this.finalStatus !== undefined) return undefined;
    const snapshot = actor.getSnapshot() as Snapshot<unknown> & { children?: Record<string, unknown> };
    if (snapshot.status !== 'active' || (snapshot.children !== undefined && Object.keys(snapshot.children).length > 0)) return undefined;
    // A workflow's step runs as its state's task, not as a child (machines/task.ts): the logic says whether one runs.
    if ((actor.logic as { troupeBusy?: (actor: unknown) => boolean }).troupeBusy?.(actor) === true) return undefined;
    if (this.persisted === undefined || this.persisted.status !== 'active') return undefined;
    return this.lastActive;
  }

  /**
   * Marks an idle actor's record passive (passivation), through the write loop like any write; true when the record
   * says so and the actor stayed idle meanwhile — the caller then ends this incarnation. Its next message or due
   * timer activates it again, wherever its shard is then. Activity during the write makes it false; the next write
   * of the running actor drops the mark.
   */
  async passivate(): Promise<boolean> {
    if (this.idleSince() === undefined) return false;
    const before = this.lastActive;
    this.passiveNext = true;
    this.markDirty();
    await this.flushed();
    return this.persisted?.passive === true && this.lastActive === before && this.idleSince() !== undefined;
  }

  /** The next record written carries the passive mark. */
  private passiveNext = false;

  private takePassiveMark(): boolean {
    const mark = this.passiveNext;
    this.passiveNext = false;
    return mark;
  }

  /** The persisted record's pending timers (what wakes a passivated actor). */
  get storedTimers(): readonly PersistedTimer[] {
    return this.persisted?.timers ?? [];
  }

  /** A restart waits for the write in flight: it decides what the new incarnation starts from. */
  override restart(mode: RestartMode): void {
    if (this.writing) {
      void this.writing.then(() => this.restart(mode));
      return;
    }
    if (!this.loaded) {
      // The record was never read (the load failed): the new incarnation must start from it, not from nothing.
      void this.load().then(
        () => this.restart(mode),
        (error: unknown) => this.failWith('start-error', error),
      );
      return;
    }
    if (this.finalStatus === 'failed') this.finalStatus = undefined; // a parent restarted the subtree: it runs again
    // Durable supervision: the restart times travel in the record, so a crash loop across process restarts still
    // meets its supervisor's intensity limit.
    this.restartTimes = [...this.restartTimes, this.host.clock.now()].slice(-MAX_RESTART_TIMES);
    super.restart(mode);
  }

  /** The supervisor gave up on this actor (stop directive, intensity exceeded): recorded `failed` when it stops. */
  abandon(): void {
    this.markFinal('failed');
  }

  /**
   * A restart starts from the last persisted record; the messages handled since go back to the head of the
   * mailbox, in order (the failed one is not among them: it was never recorded as applied).
   */
  protected override restartSnapshot(_mode: RestartMode): Snapshot<unknown> | undefined {
    const unpersisted = this.applied;
    this.applied = [];
    this.resetToPersisted();
    const requeue: Message[] = [];
    for (const message of unpersisted) {
      if (this.covers(message.receipt!.seq)) message.receipt!.ack();
      else requeue.push(message);
    }
    // Their answers are given again when they are applied again; a stale one must not go out.
    this.replies = [];
    this.requeue(requeue);
    return this.persisted ? (snapshotForLogic(this.persisted, this.logic) as Snapshot<unknown>) : undefined;
  }

  /** Records why the actor ends for good (a supervisor's stop, intensity exceeded): never activated again. */
  markFinal(status: DurableStatus): void {
    this.finalStatus ??= status;
  }

  private stopWork: Promise<void> | undefined;
  /** Called once a stop has finished its last writes: the durable node stops tracking the cell then. */
  afterStop: (() => void) | undefined;

  /** This incarnation stopped here because its shard's lease was not this node's: the actor lives on elsewhere. */
  moved = false;

  /** Ends this incarnation without a final record: the node that holds the shard runs the actor (this one, again, once its lease is renewed). */
  private stopAsMoved(): void {
    this.moved = true;
    void this.stop(false).then(() => {
      this.services.onShardMoved?.();
      this.parent.childExited(this, 'stopped');
    });
  }

  /** Resolves once a stop (if any) has finished its last writes, and every write started so far has ended. */
  async settled(): Promise<void> {
    await this.stopWork;
    await this.flushed();
  }

  override stop(notifyParent: boolean, reason?: StopReason): Promise<void> {
    return (this.stopWork ??= this.stopDurably(notifyParent, reason));
  }

  private async stopDurably(notifyParent: boolean, reason: StopReason | undefined): Promise<void> {
    // A stop while the record is still being read waits for it: a spawned actor is stored before it stops (its
    // first record), or the messages already sent to it would find no actor at the next start.
    await this.ready;
    // An explicit stop is final and recorded; a shutdown keeps the actor active for the next start.
    if (notifyParent) this.markFinal('stopped');
    await super.stop(notifyParent, reason);
    if (this.finalStatus !== undefined) {
      await this.flushed();
      await this.writeFinal(this.finalStatus);
      // What the last incarnation applied but never stored ends with it, as dead letters.
      for (const message of this.applied.splice(0)) this.messageDropped(message);
      this.services.onFinal?.(this.finalStatus);
    }
    await this.flushed();
    this.finalStored?.settle(undefined); // no-op when a final record settled it
    this.markStored(); // no-op when a write settled it; a stopped actor is waited for no longer
    this.afterStop?.();
  }

  /** The queue is handled: the last write goes out before the incarnation ends (a shutdown loses nothing). */
  protected override async beforeStop(): Promise<void> {
    if (!this.startCalled) this.markReady(); // stopped before it started (a refused spawn): nothing was read or written
    await this.flushed();
  }

  /** Resolves once every write started so far has finished. */
  async flushed(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /**
   * Starts (or extends) the write loop after the current turn of the event loop, never synchronously: a message's
   * handling emits its snapshot, its reply and then `handled()` in one synchronous run, and the write must carry all
   * three — a write of the new state without the message's `lastSeq` would let a redelivery apply it twice. Waiting
   * for the turn to end (not just a microtask) is a group commit: everything the turn's microtasks did — a chain of
   * quick steps, a burst of messages — goes out as one write, and a run that finishes within the turn is stored once,
   * finished, instead of as an active record, its final record and the active record's delete (issue 8 benchmark:
   * 3 writes per ten-step workflow became 1). Nothing is acked or answered before the write, so nothing is promised
   * earlier than before.
   */
  private markDirty(): void {
    this.dirty = true;
    this.writing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.writeLoop());
  }

  private async writeLoop(): Promise<void> {
    let attempt = 0;
    while (this.dirty) {
      this.dirty = false;
      const actor = this.latest;
      if (actor === undefined) break;
      // Never persist a failed or shut-down incarnation: a restart or the next start resumes from the last good record.
      const status = actor.getSnapshot().status;
      if (status === 'error' || status === 'stopped') break;
      const batch = { applied: this.applied, replies: this.replies, dead: this.deadReceipts };
      this.applied = [];
      this.replies = [];
      this.deadReceipts = [];
      const record = this.recordOf(actor);
      const outcome = await this.put(record, ++attempt);
      if (outcome === 'written') {
        attempt = 0;
        for (const message of batch.applied) message.receipt!.ack();
        for (const receipt of batch.dead) receipt.ack();
        for (const { target, payload } of batch.replies) target.resolve(payload);
        const acked = batch.applied.length + batch.dead.length;
        if (acked > 0) this.services.onAcked?.(acked);
        continue;
      }
      // Not written: everything stays pending (nothing is acked), in order.
      this.applied.unshift(...batch.applied);
      this.replies.unshift(...batch.replies);
      this.deadReceipts.unshift(...batch.dead);
      if (outcome === 'retry') {
        this.dirty = true;
        await new Promise<void>((resolve) => this.host.clock.setTimeout(resolve, this.services.retryDelayMs(attempt)));
        continue;
      }
      if (outcome === 'closing') break;
      this.writing = undefined;
      for (const { target } of this.replies.splice(0)) target.reject(new Error(`durable write of ${this.address} failed: ${outcome.message}`));
      if (outcome instanceof ShardMovedError) {
        // Fenced by the shard's new owner: nothing here is stored or acked; the owner redoes it from the record.
        this.log.warn({ err: toPlainError(outcome) }, 'durable actor stops here: its shard moved');
        this.stopAsMoved();
        return;
      }
      this.failWith('persistence-error', outcome);
      return;
    }
    this.writing = undefined;
  }

  /** One write with the expected revision; says what to do next instead of throwing. */
  private async put(record: DurableRecord, attempt: number): Promise<'written' | 'retry' | 'closing' | Error> {
    const bytes = encodeRecord(record);
    try {
      const started = performance.now();
      const result = record.status !== 'active' && this.services.finished
        ? await this.finish(record, bytes, this.revision)
        : await this.services.store.put(this.services.key, bytes, this.revision);
      this.services.onWrite?.(bytes.byteLength, performance.now() - started);
      if (result.ok) {
        this.revision = result.revision;
        this.persisted = record;
        if (result.revision !== null) this.persistedBytes = bytes; // a finish keeps the bytes the finished store has
        if (record.status !== 'active') this.finalStored?.settle(record);
        this.markStored();
        this.deadSeqs = this.deadSeqs.filter((seq) => seq > record.lastSeq);
        return 'written';
      }
      // Someone else wrote this actor's record since we read it: this incarnation is stale (fenced). Reload what
      // is stored, then fail: the supervisor's restart resumes from the stored record.
      const fencedAt = this.revision;
      await this.reload().catch(() => undefined);
      const moved = this.movedAway();
      if (moved) return moved;
      return new Error(`durable write of ${this.address} was fenced: record changed since revision ${String(fencedAt)}`);
    } catch (error) {
      if (!isRetryable(error) || error instanceof CodecError) {
        // The record itself cannot be stored (e.g. larger than the server accepts): retrying cannot help, and
        // truncating would lose state. Fail loudly; the supervisor decides, from the last stored record.
        this.log.error({ err: toPlainError(error), bytes: bytes.byteLength }, 'durable record cannot be stored');
        return error as Error;
      }
      if (this.services.closing()) return 'closing';
      this.log.warn({ err: toPlainError(error), attempt }, 'durable write failed; retrying');
      return 'retry';
    }
  }

  /**
   * The final record goes straight to the finished store, then the active one is deleted under the revision this
   * incarnation last wrote (finished-records.ts): two operations instead of a final write and a move. Afterwards the
   * key has no record (`revision` null): a parent restarting the actor writes its next record as a new one.
   */
  private async finish(record: DurableRecord, bytes: Uint8Array, revision: number | null): Promise<{ ok: true; revision: null }> {
    const { finished, store, key } = this.services;
    // Idempotent: a retry whose first attempt was stored (its answer lost in an outage) keeps that first record,
    // so the finished bucket never holds two different final records of one run. A final record of an earlier
    // actor at this address is replaced.
    let stored: Uint8Array | undefined;
    for (let round = 0; stored === undefined; round++) {
      if (round === 3) throw new RetryableError(`the finished record of ${this.address} kept changing while it was written`);
      if ((await finished!.put(key, bytes, null)).ok) stored = bytes;
      else {
        const existing = await finished!.get(key);
        if (existing === undefined) continue; // expired meanwhile: create again
        const prior = decodeRecord(existing.value);
        const sameRun = prior.incarnation === record.incarnation && prior.lastSeq === record.lastSeq && (prior.birth ?? 0) === (record.birth ?? 0) && prior.status === record.status;
        if (sameRun) stored = existing.value;
        else if ((await finished!.put(key, bytes, existing.revision)).ok) stored = bytes;
      }
    }
    this.persistedBytes = stored;
    if (revision !== null) {
      await store.delete(key, revision);
      this.services.onDelete?.();
    } // null: this actor never stored an active record
    return { ok: true, revision: null };
  }

  /** Writes the last persisted record with a final status (the failed incarnation's own state is never stored). */
  private async writeFinal(status: DurableStatus): Promise<void> {
    const base = this.persisted;
    if (base === undefined || base.status !== 'active') return;
    const record: DurableRecord = { ...base, status, timers: [], updatedAt: this.host.clock.now() };
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.put(record, attempt);
      if (outcome !== 'retry') return;
      await new Promise<void>((resolve) => this.host.clock.setTimeout(resolve, this.services.retryDelayMs(attempt)));
    }
  }

  private recordOf(actor: AnyActor): DurableRecord {
    const snapshot = actor.getSnapshot() as Snapshot<unknown>;
    const status: DurableStatus = snapshot.status === 'done' ? 'done' : 'active';
    const timers: PersistedTimer[] = status === 'active' ? pendingTimers(actor) : [];
    const dead = this.deadSeqs.filter((seq) => seq > this.appliedSeq);
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
      lastSeq: this.appliedSeq,
      ...(this.birthSeq > 0 ? { birth: this.birthSeq } : {}),
      ...(dead.length > 0 ? { dead } : {}),
      ...(this.outIndex > 0 ? { out: this.outIndex } : {}),
      ...(this.restartTimes.length > 0 ? { restarts: this.restartTimes } : {}),
      timers,
      incarnation: this.incarnation,
      updatedAt: this.host.clock.now(),
      ...(this.persisted?.epoch !== undefined ? { epoch: this.persisted.epoch } : {}),
      ...(this.takePassiveMark() ? { passive: true } : {}),
    };
  }
}
