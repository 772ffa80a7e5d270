/**
 * The embedded default durable mailbox: an in-process log with the JetStream consumer's semantics
 * (msgId dedupe, per-shard in-order first delivery, redelivery on nak or after ackWait, unacked messages
 * kept for the shard's next consumer). It survives actor crashes and restarts within one process, not the
 * process itself. Errors match the JetStream log's: NonRetryableError for a bad subject, shard or a closed log.
 */
import { createHash } from 'node:crypto';
import { NonRetryableError } from '../../errors.js';
import {
  addressOfSubject,
  type AppendResult,
  type ConsumeOptions,
  type MailboxDelivery,
  type MailboxLog,
  type StoredDeadLetter,
} from '../mailbox-log.js';
import { deleteOldest } from '../../oldest-entry.js';

export interface MemoryMailboxLogOptions {
  /** Number of shards. Default 8. */
  readonly shards?: number;
  /** How many msgIds are remembered for dedupe (JetStream counts time instead). Default 100,000. */
  readonly dedupeWindow?: number;
  /** Dead letters kept (the oldest is dropped first). Default 10,000. */
  readonly maxDeadLetters?: number;
  /** Redelivery after this long without an ack, ms. Default 30,000; `consume({ ackWaitMs })` overrides. */
  readonly ackWaitMs?: number;
  /** A handler that threw (the delivery stays unacked). Without it the error is rethrown on a macrotask. */
  readonly onHandlerError?: (error: unknown, delivery: { shard: number; seq: number }) => void;
}

interface Entry {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly seq: number;
  readonly shard: number;
  deliveries: number;
  acked: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface Consumer {
  readonly handler: (d: MailboxDelivery) => void;
  readonly ackWaitMs: number;
  delivered: number;
}

export function createMemoryMailboxLog(options: MemoryMailboxLogOptions = {}): MailboxLog {
  const shards = options.shards ?? 8;
  const dedupeWindow = options.dedupeWindow ?? 100_000;
  const defaultAckWaitMs = options.ackWaitMs ?? 30_000;
  const byMsgId = new Map<string, number>();
  const consumers = new Map<number, Consumer>();
  // Messages due for delivery while their shard has no consumer; a Set so a message waits there once.
  const waiting = new Map<number, Set<Entry>>();
  const unacked = new Set<Entry>();
  let seq = 0;
  const maxDeadLetters = options.maxDeadLetters ?? 10_000;
  const deadLetters: StoredDeadLetter[] = [];
  let dlqSeq = 0;
  const deadLetterKeys = new Set<string>();
  let closed = false;

  const reportHandlerError = (error: unknown, entry: Entry) => {
    if (!options.onHandlerError) return void setTimeout(() => { throw error; });
    try {
      options.onHandlerError(error, { shard: entry.shard, seq: entry.seq });
    } catch (thrown) {
      setTimeout(() => { throw thrown; });
    }
  };

  function park(entry: Entry): void {
    const set = waiting.get(entry.shard) ?? new Set<Entry>();
    waiting.set(entry.shard, set.add(entry));
  }

  function redeliverAfter(entry: Entry, ms: number): void {
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      deliver(entry);
    }, ms);
  }

  function finish(entry: Entry): void {
    entry.acked = true;
    unacked.delete(entry);
    clearTimeout(entry.timer);
    entry.timer = undefined;
  }

  /** Hands the entry to its shard's consumer on a microtask, or parks it until a consumer starts. */
  function deliver(entry: Entry): void {
    if (entry.acked || closed) return;
    const consumer = consumers.get(entry.shard);
    if (!consumer) return park(entry);
    // The redelivery timer runs from the hand-over, like JetStream's ack_wait.
    redeliverAfter(entry, consumer.ackWaitMs);
    queueMicrotask(() => {
      if (entry.acked || closed) return;
      // Stopped between hand-over and now: that consumer sees nothing more; the entry waits for the next one.
      if (consumers.get(entry.shard) !== consumer) {
        clearTimeout(entry.timer);
        return deliver(entry);
      }
      entry.deliveries++;
      const delivery: MailboxDelivery = {
        deliverySeq: ++consumer.delivered,
        subject: entry.subject,
        // A copy per delivery, so a handler that mutates it cannot change a redelivery.
        data: entry.data.slice(),
        seq: entry.seq,
        deliveryCount: entry.deliveries,
        ack: () => finish(entry),
        term: () => finish(entry),
        nak: (delayMs = 0) => void (!entry.acked && redeliverAfter(entry, delayMs)),
        working: () => void (!entry.acked && redeliverAfter(entry, consumer.ackWaitMs)),
      };
      try {
        consumer.handler(delivery);
      } catch (error) {
        reportHandlerError(error, entry);
      }
    });
  }

  const checkOpen = () => {
    if (closed) throw new NonRetryableError('mailbox log is closed', { type: 'Closed' });
  };

  return {
    kind: 'memory',
    shards,
    async append(subject, data, msgId): Promise<AppendResult> {
      checkOpen();
      const target = addressOfSubject(subject);
      if (!target || target.shard >= shards) throw new NonRetryableError(`not a mailbox subject of this log: ${subject}`, { type: 'InvalidSubject' });
      if (typeof msgId !== 'string' || msgId === '') throw new NonRetryableError('msgId must be a non-empty string', { type: 'InvalidMsgId' });
      const existing = byMsgId.get(msgId);
      if (existing !== undefined) return { seq: existing, duplicate: true };
      const entry: Entry = { subject, data: data.slice(), seq: ++seq, shard: target.shard, deliveries: 0, acked: false, timer: undefined };
      byMsgId.set(msgId, entry.seq);
      if (byMsgId.size > dedupeWindow) deleteOldest(byMsgId);
      unacked.add(entry);
      deliver(entry);
      return { seq: entry.seq, duplicate: false };
    },
    async consume(shard, handler, consumeOptions?: ConsumeOptions) {
      checkOpen();
      if (!Number.isInteger(shard) || shard < 0 || shard >= shards) {
        throw new NonRetryableError(`shard ${shard} is out of range 0..${shards - 1}`, { type: 'InvalidShard' });
      }
      if (consumers.has(shard)) throw new NonRetryableError(`shard ${shard} already has a consumer`, { type: 'AlreadyConsuming' });
      const consumer: Consumer = { handler, ackWaitMs: consumeOptions?.ackWaitMs ?? defaultAckWaitMs, delivered: 0 };
      consumers.set(shard, consumer);
      const parked = [...(waiting.get(shard) ?? [])].sort((a, b) => a.seq - b.seq);
      waiting.delete(shard);
      for (const entry of parked) deliver(entry);
      return async () => {
        if (consumers.get(shard) === consumer) consumers.delete(shard);
      };
    },
    async next(subject, afterSeq) {
      checkOpen();
      // Unacked entries in sequence order (a Set keeps insertion order, and sequences are appended in order).
      for (const entry of unacked) {
        if (entry.seq > afterSeq && entry.subject === subject) return { subject, data: entry.data.slice(), seq: entry.seq };
      }
      return undefined;
    },
    async compact() {
      checkOpen();
      return 0; // an acked entry is dropped at its ack: only unacked ones are stored
    },
    async deadLetter(subject, data, reason, detail) {
      checkOpen();
      // Stored once per subject and bytes, like the JetStream log's msgID dedupe, so a retry counts once.
      const key = createHash('sha256').update(subject).update('\0').update(data).digest('hex');
      if (deadLetterKeys.has(key)) return;
      deadLetterKeys.add(key);
      if (deadLetterKeys.size > dedupeWindow) deadLetterKeys.delete(deadLetterKeys.values().next().value as string);
      const entry: StoredDeadLetter = { dlqSeq: ++dlqSeq, subject, data: data.slice(), reason: String(reason), at: Date.now() };
      deadLetters.push(detail?.incarnation === undefined ? entry : { ...entry, incarnation: detail.incarnation });
      if (deadLetters.length > maxDeadLetters) deadLetters.shift();
    },
    async deadLetterCount() {
      return deadLetters.length;
    },
    async deadLetters(query = {}) {
      const from = query.fromSeq ?? 0;
      const limit = query.limit ?? 100;
      return deadLetters.filter((d) => d.dlqSeq >= from).slice(0, limit).map((d) => ({ ...d, data: d.data.slice() }));
    },
    async close() {
      closed = true;
      consumers.clear();
      waiting.clear();
      for (const entry of unacked) clearTimeout(entry.timer);
      unacked.clear();
    },
  };
}
