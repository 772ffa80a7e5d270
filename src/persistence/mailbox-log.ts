/**
 * The durable mailbox seam (L1): an append-only log of messages per system, split into shards, with
 * at-least-once delivery to one consumer per shard. `memory/` is the embedded default (survives actor
 * crashes within the process); `jetstream/` is a JetStream stream with one durable pull consumer per shard.
 *
 * Contract:
 * - `append` resolves once the message is stored; a repeated `msgId` within the dedupe window is stored once
 *   (the result says `duplicate`), so a publisher may retry freely.
 * - Within a shard, first deliveries come in append order. A delivery that is neither acked nor `working()`
 *   is redelivered after `ackWaitMs`; `nak(delayMs)` asks for a redelivery. Consumers dedupe by `seq` —
 *   never trust a redelivery flag (after a server kill -9 an acked message came back unflagged).
 * - Subjects are `troupe.<system>.mbox.<shard>.<address tokens>`; `mailboxSubject` builds one.
 */
import { addressTokens } from '../system/address.js';

export interface MailboxDelivery {
  readonly subject: string;
  readonly data: Uint8Array;
  /** Stream sequence: unique and increasing across the whole log. */
  readonly seq: number;
  /** Deliveries of this message so far (1 on the first). */
  readonly deliveryCount: number;
  /**
   * The consumer's own count of deliveries (JetStream's delivery sequence), +1 per delivery of any message. A jump
   * means deliveries were lost on the way (a pull iterator restarted with messages buffered): they come back later,
   * after newer ones, so per-key order can no longer be assumed from arrival order.
   */
  readonly deliverySeq: number;
  ack(): void;
  nak(delayMs?: number): void;
  /** Resets the redelivery timer while the message is still being worked on. */
  working(): void;
  /** Never redeliver (poison message); the caller has dead-lettered it. */
  term(): void;
}

/** A message as the log stores it. */
export interface StoredMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly seq: number;
}

/** What a dead letter records besides the message: why, and which incarnation of the actor gave up on it. */
export interface DeadLetterDetail {
  readonly incarnation?: number;
}

/** One entry of the dead-letter stream. */
export interface StoredDeadLetter {
  /** Sequence in the dead-letter stream: what `redeliver` takes. */
  readonly dlqSeq: number;
  /** The mailbox subject the message was sent to. */
  readonly subject: string;
  readonly data: Uint8Array;
  readonly reason: string;
  readonly incarnation?: number;
  /** When it was dead-lettered, ms since the epoch. */
  readonly at: number;
}

export interface AppendResult {
  readonly seq: number;
  readonly duplicate: boolean;
}

export interface ConsumeOptions {
  /** Redelivery after this long without ack, ms. */
  readonly ackWaitMs?: number;
  /** Messages pulled ahead of handling; bounds the consumer's in-memory queue. */
  readonly batch?: number;
}

export interface MailboxLog {
  readonly kind: string;
  readonly shards: number;
  append(subject: string, data: Uint8Array, msgId: string): Promise<AppendResult>;
  /** Starts the shard's consumer; resolves with its stop function once consuming. */
  consume(shard: number, handler: (delivery: MailboxDelivery) => void, options?: ConsumeOptions): Promise<() => Promise<void>>;
  /**
   * The first message stored on exactly `subject` with a sequence above `afterSeq`, or undefined. A durable actor's
   * ordered inbox asks this to find an earlier message still owed to it (delivered to a process that died).
   */
  next(subject: string, afterSeq: number): Promise<StoredMessage | undefined>;
  /**
   * Removes stored messages that every shard's consumer has acknowledged (acked = covered by a stored record, or
   * dead-lettered); resolves with how many went. Best effort, called now and then: a message still owed to anyone
   * (unacked, or on a shard nobody consumes yet) stays. The memory log keeps no acked message, so it has none.
   */
  compact(): Promise<number>;
  /** Writes a rejected message to the dead-letter stream with its reason; the same subject and bytes are stored once. */
  deadLetter(subject: string, data: Uint8Array, reason: string, detail?: DeadLetterDetail): Promise<void>;
  /** Entries in the dead-letter stream. */
  deadLetterCount(): Promise<number>;
  /** Dead letters in stream order, from `fromSeq` (default the first), at most `limit` (default 100). */
  deadLetters(options?: { readonly fromSeq?: number; readonly limit?: number }): Promise<StoredDeadLetter[]>;
  close(): Promise<void>;
}

/** `troupe.<system>.mbox.<shard>.<address tokens>`; address segments are already subject-safe. */
export function mailboxSubject(system: string, shard: number, address: string): string {
  return `troupe.${system}.mbox.${shard}.${addressTokens(address)}`;
}

/** The address a mailbox subject names, or undefined for a subject of another shape. */
export function addressOfSubject(subject: string): { shard: number; address: string } | undefined {
  const tokens = subject.split('.');
  if (tokens.length < 5 || tokens[0] !== 'troupe' || tokens[2] !== 'mbox') return undefined;
  const shard = Number(tokens[3]);
  if (!Number.isInteger(shard) || shard < 0) return undefined;
  return { shard, address: tokens.slice(4).join('/') };
}

/** Shard of an address: FNV-1a 32-bit hash mod N (stable across processes and versions). */
export function shardOf(address: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < address.length; i++) {
    hash ^= address.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}
