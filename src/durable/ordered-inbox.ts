/**
 * One durable actor's ordered inbox (issue 8): it applies the actor's messages strictly in stream-sequence order,
 * each once, on top of the persisted record.
 *
 * - Deliveries are kept here, never nak'd: the consumer's `max_ack_pending` bounds them, and the node marks every
 *   held one `working()`, so `ack_wait` does not redeliver a message this node still holds.
 * - A message is released to the cell only when the cell has room and no earlier message for the actor can still
 *   come. Earlier messages can only be owed by a process that died holding them (they come back after its
 *   `ack_wait`) or lost on the way: every message a shard's consumer delivers for the first time comes in sequence
 *   order. So after
 *   activation the inbox asks the log for the next stored message on the actor's subject above its cursor and, when
 *   it is earlier than the head, takes it straight from the log instead of waiting for its redelivery. Once a
 *   first delivery (deliveryCount 1) has been released, everything after it arrives in order — unless the shard's
 *   deliveries jump (a delivery lost on the way, see MailboxDelivery.deliverySeq): then `reorder()` checks again.
 * - A redelivery of a held message replaces the held handle (the newest one acks); one the persisted record covers
 *   is acked and dropped.
 */
import type { MailboxDelivery, StoredMessage } from '../persistence/mailbox-log.js';
import type { Receipt } from '../system/message.js';

export interface InboxDeps {
  /** The first stored message on the actor's subject above `afterSeq` (see MailboxLog.next). */
  next(afterSeq: number): Promise<StoredMessage | undefined>;
  /** Free places in the cell's mailbox. */
  room(): number;
  /** Hands a message to the cell; false when the cell refuses it for now (closing). */
  release(entry: InboxEntry): boolean;
  /** True when the persisted record covers `seq` (applied, or dead-lettered, and stored). */
  covered(seq: number): boolean;
  /** A delivery at or below the cursor that is neither held nor covered: not owed to this actor (dead-letter it). */
  stale(delivery: MailboxDelivery): void;
  /** Writes the entry to the dead-letter stream (retrying while the node lives). */
  deadLetter(entry: InboxEntry, reason: string, incarnation: number | undefined): Promise<void>;
  /** A lookup failed: try again later (the node retries with a delay). */
  lookupFailed(error: unknown): void;
}

/** A held message: its current delivery handle, which a redelivery replaces. */
export class InboxEntry implements Receipt {
  settled = false;

  constructor(
    private readonly inbox: OrderedInbox,
    public delivery: MailboxDelivery,
  ) {}

  get seq(): number {
    return this.delivery.seq;
  }

  ack(): void {
    if (this.settled) return;
    this.settled = true;
    this.delivery.ack();
    this.inbox.forget(this);
  }

  deadLetter(reason: string, incarnation: number): Promise<void> {
    return this.inbox.deadLetter(this, reason, incarnation);
  }
}

/** A message read from the log rather than delivered: its real delivery (if any) is acked when it comes back. */
function fetchedDelivery(stored: StoredMessage): MailboxDelivery {
  const none = () => {};
  return { subject: stored.subject, data: stored.data, seq: stored.seq, deliveryCount: 0, deliverySeq: 0, ack: none, nak: none, working: none, term: none };
}

export class OrderedInbox {
  private readonly held = new Map<number, InboxEntry>();
  /** Held entries not yet released, in sequence order. */
  private pending: InboxEntry[] = [];
  /** The highest sequence released to the cell; undefined until the actor is activated. */
  private cursor: number | undefined;
  /** Every later first delivery is the next message: no lookup needed (see the module comment). */
  private inOrder = false;
  private lookingUp = false;
  private closed = false;

  constructor(private readonly deps: InboxDeps) {}

  /** Messages held (pending or released, not yet acked). */
  get size(): number {
    return this.held.size;
  }

  /** Held entries not yet released to the cell. */
  get waiting(): number {
    return this.pending.length;
  }

  /**
   * Starts releasing above `cursor` (the record's last applied sequence). The first release is always checked
   * against the log: a process that died, or a delivery lost on the way, may owe the actor an earlier message.
   */
  open(cursor: number): void {
    this.cursor = cursor;
    for (const entry of this.pending.filter((e) => this.deps.covered(e.seq))) entry.ack();
    this.pending = this.pending.filter((e) => !e.settled);
    this.pump();
  }

  /** A delivery from the consumer. */
  offer(delivery: MailboxDelivery): void {
    const held = this.held.get(delivery.seq);
    if (held) {
      held.delivery = delivery; // the newest handle: an older delivery's ack may no longer count
      return;
    }
    // Applied and stored, or dead-lettered and stored (a dead letter can be above the record's last applied
    // sequence): only its ack was lost.
    if (this.deps.covered(delivery.seq)) return void delivery.ack();
    // At or below the cursor and not covered: sent before this actor existed.
    if (this.cursor !== undefined && delivery.seq <= this.cursor) return void this.deps.stale(delivery);
    if (this.closed) return; // left unacked: the next start gets it
    this.insert(new InboxEntry(this, delivery));
    this.pump();
  }

  /** Releases what can go to the cell now. */
  pump(): void {
    if (this.cursor === undefined || this.lookingUp || this.closed) return;
    while (this.pending.length > 0 && this.deps.room() > 0) {
      if (!this.inOrder) return void this.lookUp();
      if (!this.releaseHead()) return;
    }
  }

  /** Deliveries of the shard were lost on the way: they come back late, so every release is checked again. */
  reorder(): void {
    this.inOrder = false;
  }

  /** Calls `working()` on every held delivery, so `ack_wait` does not redeliver them. */
  keepAlive(): void {
    for (const entry of this.held.values()) entry.delivery.working();
  }

  /** Stops releasing; held messages stay unacked for the next start. */
  close(): void {
    this.closed = true;
  }

  /** Unacked entries, for a node that gives the actor up (e.g. it has no record): settles each. */
  drainPending(): InboxEntry[] {
    const all = this.pending;
    this.pending = [];
    return all;
  }

  /** @internal InboxEntry.ack */
  forget(entry: InboxEntry): void {
    if (this.held.get(entry.seq) === entry) this.held.delete(entry.seq);
  }

  /** @internal InboxEntry.deadLetter */
  deadLetter(entry: InboxEntry, reason: string, incarnation: number | undefined): Promise<void> {
    return this.deps.deadLetter(entry, reason, incarnation);
  }

  private insert(entry: InboxEntry): void {
    this.held.set(entry.seq, entry);
    let i = this.pending.length;
    while (i > 0 && this.pending[i - 1]!.seq > entry.seq) i--;
    this.pending.splice(i, 0, entry);
  }

  private releaseHead(): boolean {
    const head = this.pending[0]!;
    if (!this.deps.release(head)) return false;
    this.pending.shift();
    this.cursor = head.seq;
    if (head.delivery.deliveryCount === 1) this.inOrder = true;
    return true;
  }

  /** Finds the next message owed to the actor; takes it from the log when it is earlier than the head. */
  private lookUp(): void {
    this.lookingUp = true;
    const after = this.cursor!;
    this.deps.next(after).then(
      (stored) => {
        this.lookingUp = false;
        if (this.closed || this.cursor !== after) return this.pump();
        const head = this.pending[0];
        if (stored && head && stored.seq < head.seq && !this.held.has(stored.seq)) {
          if (this.deps.covered(stored.seq)) {
            this.cursor = stored.seq; // dead-lettered and stored: nothing to apply; look further
            return this.pump();
          }
          this.insert(new InboxEntry(this, fetchedDelivery(stored)));
        }
        if (this.pending.length > 0 && this.deps.room() > 0) this.releaseHead();
        this.pump();
      },
      (error: unknown) => {
        this.lookingUp = false;
        this.deps.lookupFailed(error);
      },
    );
  }
}
