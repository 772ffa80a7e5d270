/**
 * MailboxLog over NATS JetStream (`@nats-io/jetstream` v3, nats-server >= 2.9).
 *
 * - Stream `TROUPE_<system>_MBOX` captures `troupe.<system>.mbox.>`, file storage, **limits retention**: a
 *   message stays stored after its ack, and only the durable consumer's ack floor says what is handled. Work-queue
 *   retention would delete on ack, which buys nothing here (each shard has exactly one consumer either way) and
 *   makes any loss of consumer state after a kill -9 unrecoverable; interest retention would drop messages
 *   appended before a shard's consumer exists. The cost: the stream grows until a limit trims it — set
 *   `maxAgeMs` (longer than any outage you mean to survive: an unhandled message older than it is gone), and let
 *   the durable node call `compact()`, which purges what every shard's consumer has acked (the equivalent of
 *   work-queue retention, decided by the client). Not a purge per actor subject: on nats-server 2.9 a filtered
 *   purge moves the ack floor of every consumer whose filter overlaps it (measured: the shard's consumer then skips
 *   the unacked messages of the other actors of that shard), while a purge below every consumer's floor is a no-op
 *   for the consumers.
 * - `append` is a JetStream publish with `Nats-Msg-Id` = msgId: a repeat within `duplicateWindowMs` is stored
 *   once and reported `duplicate: true`. A transient "JetStream unavailable" (leader election, a restarting
 *   server) is retried with the same msgID for up to `appendRetryMs`, reported as `rt.mbox.append-retry`.
 * - One durable pull consumer per shard, `mbox-<shard>`, explicit ack, see mailbox-consumer.ts.
 * - Dead letters go to stream `TROUPE_<system>_DLQ` (`troupe.<system>.dlq.>`), original bytes plus headers
 *   `Troupe-Reason` and `Troupe-Original-Subject`, deduplicated on a hash of subject and bytes; bounded by
 *   `deadLetters` (age, bytes, count: the oldest go first).
 * The log does not own the connection: `close()` stops the consumers only.
 */
import { createHash } from 'node:crypto';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { backoffDelay, type BackoffPolicy } from '../../backoff.js';
import { NonRetryableError, type TroupeError } from '../../errors.js';
import {
  addressOfSubject,
  type AppendResult,
  type ConsumeOptions,
  type DeadLetterDetail,
  type MailboxDelivery,
  type MailboxLog,
  type StoredDeadLetter,
  type StoredMessage,
} from '../mailbox-log.js';
import { ShardConsumer } from './mailbox-consumer.js';
import { createReporter, type MailboxLogListener } from './mailbox-events.js';
import { isConsumerNotFound, isJetStreamUnavailable, toTroupeError } from './mailbox-errors.js';
import { DEAD_LETTER_DEFAULTS, ensureShardConsumer, ensureStreams, JETSTREAM_MAILBOX_DEFAULTS, openShardConsumer, validateOptions } from './mailbox-setup.js';

export { DEAD_LETTER_DEFAULTS, JETSTREAM_MAILBOX_DEFAULTS };
export type { MailboxLogEvent, MailboxLogListener } from './mailbox-events.js';

export interface JetStreamMailboxLogOptions {
  /** System name, `[A-Za-z0-9_-]+`: names the streams and the subjects. */
  readonly system: string;
  /** Number of shards (and durable consumers), >= 1. Fixed for the life of the stream's data. */
  readonly shards: number;
  /** Replicas of new streams: 1 (default) survives process kills, 3 the loss of a machine. */
  readonly replicas?: number;
  /** Redelivery after this long without an ack, ms. Default 30,000. `consume({ ackWaitMs })` overrides per shard. */
  readonly ackWaitMs?: number;
  /** How long a msgId is remembered for dedupe, ms. Default 120,000 (JetStream's). */
  readonly duplicateWindowMs?: number;
  /** Largest message the streams accept, bytes; larger appends fail with NonRetryableError. Default: max_payload. */
  readonly maxMsgBytes?: number;
  /** Age after which stored messages (handled or not) are deleted, ms. Default: never (the stream grows). */
  readonly maxAgeMs?: number;
  /**
   * Limits of the dead-letter stream `TROUPE_<system>_DLQ` (the oldest entries go first): age (default 30 days),
   * size (default 1 GiB), entries (default unlimited). Applied to a new stream, and to an existing one that differs.
   */
  readonly deadLetters?: DeadLetterLimits;
  /** Unacked deliveries per shard before the server pauses it. Default 1,000. */
  readonly maxAckPending?: number;
  /** Wait for one publish ack, ms. Default 5,000; an outage longer than this fails the append with TimeoutError. */
  readonly publishTimeoutMs?: number;
  /** Total time `append` keeps retrying "JetStream unavailable", ms. Default 15,000 (elections took 4–8.7 s). */
  readonly appendRetryMs?: number;
  /** Self-healing events (retries, consumer restarts, handler errors). Without it a handler error is rethrown on a macrotask. */
  readonly onEvent?: MailboxLogListener;
}

export interface DeadLetterLimits {
  readonly maxAgeMs?: number;
  readonly maxBytes?: number;
  readonly maxMsgs?: number;
}

const APPEND_BACKOFF: BackoffPolicy = { minMs: 50, maxMs: 1_000, factor: 2, jitter: 0.2 };
const REASON_MAX_CHARS = 1_024;

export type ResolvedMailboxOptions = Required<Omit<JetStreamMailboxLogOptions, 'maxMsgBytes' | 'maxAgeMs' | 'onEvent' | 'deadLetters'>> & {
  readonly deadLetters: Required<DeadLetterLimits>;
} &
  Pick<JetStreamMailboxLogOptions, 'maxMsgBytes' | 'maxAgeMs'>;

/**
 * Creates (or opens) the mailbox and dead-letter streams and returns the log.
 * @example
 * const log = await createJetStreamMailboxLog(nc, { system: 'support', shards: 8 });
 * const { seq } = await log.append(mailboxSubject('support', 3, 'support/ticket-42'), bytes, envelope.id);
 */
export async function createJetStreamMailboxLog(nc: NatsConnection, options: JetStreamMailboxLogOptions): Promise<MailboxLog> {
  const resolved = validateOptions(options);
  const jsm = await jetstreamManager(nc, { timeout: resolved.publishTimeoutMs }).catch((e: unknown) => {
    throw toTroupeError(e, 'open JetStream', resolved.publishTimeoutMs);
  });
  const names = await ensureStreams(jsm, resolved);
  return new JetStreamMailboxLog(jetstream(nc, { timeout: resolved.publishTimeoutMs }), jsm, resolved, names, createReporter(options.onEvent));
}

class JetStreamMailboxLog implements MailboxLog {
  readonly kind = 'jetstream';
  readonly shards: number;
  private readonly consumers = new Map<number, ShardConsumer>();
  private closed = false;
  /** The stream is purged up to here (inclusive) by this log. */
  private compactedTo = 0;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly options: ResolvedMailboxOptions,
    private readonly names: { mbox: string; dlq: string },
    private readonly report: MailboxLogListener,
  ) {
    this.shards = options.shards;
  }

  async append(subject: string, data: Uint8Array, msgId: string): Promise<AppendResult> {
    this.checkOpen();
    const target = subject.startsWith(`troupe.${this.options.system}.mbox.`) ? addressOfSubject(subject) : undefined;
    if (!target || target.shard >= this.shards) {
      throw new NonRetryableError(`not a mailbox subject of system ${this.options.system} with ${this.shards} shards: ${subject}`, { type: 'InvalidSubject' });
    }
    if (typeof msgId !== 'string' || msgId === '') throw new NonRetryableError('msgId must be a non-empty string', { type: 'InvalidMsgId' });
    this.checkSize(subject, data);
    const ack = await this.publish(subject, data, { msgID: msgId }, `append to ${subject}`);
    return { seq: ack.seq, duplicate: ack.duplicate };
  }

  async consume(shard: number, handler: (delivery: MailboxDelivery) => void, options: ConsumeOptions = {}): Promise<() => Promise<void>> {
    this.checkOpen();
    if (!Number.isInteger(shard) || shard < 0 || shard >= this.shards) {
      throw new NonRetryableError(`shard ${shard} is out of range 0..${this.shards - 1}`, { type: 'InvalidShard' });
    }
    if (this.consumers.has(shard)) throw new NonRetryableError(`shard ${shard} already has a consumer`, { type: 'AlreadyConsuming' });
    const batch = options.batch ?? JETSTREAM_MAILBOX_DEFAULTS.batch;
    const ackWaitMs = options.ackWaitMs ?? this.options.ackWaitMs;
    if (!(Number.isInteger(batch) && batch > 0)) throw new NonRetryableError(`batch must be an integer > 0, got ${batch}`, { type: 'InvalidOption' });
    if (!(Number.isFinite(ackWaitMs) && ackWaitMs > 0)) throw new NonRetryableError(`ackWaitMs must be > 0, got ${ackWaitMs}`, { type: 'InvalidOption' });
    const setup = { stream: this.names.mbox, system: this.options.system, shard, ackWaitMs, maxAckPending: this.options.maxAckPending };
    const open = () => openShardConsumer(this.js, this.jsm, setup);
    const consumer = new ShardConsumer({ shard, batch, handler, open, report: this.report });
    this.consumers.set(shard, consumer);
    try {
      await ensureShardConsumer(this.jsm, setup);
      consumer.start(await open());
    } catch (error) {
      this.consumers.delete(shard);
      throw toTroupeError(error, `consume shard ${shard}`, this.options.publishTimeoutMs);
    }
    return async () => {
      await consumer.stop();
      if (this.consumers.get(shard) === consumer) this.consumers.delete(shard);
    };
  }

  async next(subject: string, afterSeq: number): Promise<StoredMessage | undefined> {
    this.checkOpen();
    try {
      // STREAM.MSG.GET with next_by_subj (nats-server >= 2.9): the first message on the subject at or after seq.
      const query = { seq: afterSeq + 1, next_by_subj: subject } as unknown as { seq: number };
      const stored = await this.jsm.streams.getMessage(this.names.mbox, query);
      return stored ? { subject: stored.subject, data: new Uint8Array(stored.data), seq: stored.seq } : undefined;
    } catch (error) {
      throw toTroupeError(error, `read the next message on ${subject}`, this.options.publishTimeoutMs);
    }
  }

  /**
   * Purges the mailbox stream below the lowest point every shard's consumer has acked up to (see the module comment).
   * A consumer with unacked deliveries bounds it at its ack floor; one with none outstanding but more to deliver at
   * its last delivered message; one with nothing left at the stream's last sequence, read before the consumers (a
   * message appended meanwhile is above it).
   */
  async compact(): Promise<number> {
    this.checkOpen();
    const stream = this.names.mbox;
    try {
      const last = (await this.jsm.streams.info(stream)).state.last_seq;
      const infos = await Promise.all(
        Array.from({ length: this.shards }, (_, shard) =>
          this.jsm.consumers.info(stream, `mbox-${shard}`).catch((error: unknown) => {
            if (isConsumerNotFound(error)) return undefined;
            throw error;
          }),
        ),
      );
      let floor = last;
      for (const info of infos) {
        if (!info) return 0; // a shard nobody consumed yet: all its messages are still owed
        const bound = info.num_ack_pending > 0 ? info.ack_floor.stream_seq : info.num_pending > 0 ? info.delivered.stream_seq : last;
        floor = Math.min(floor, bound);
      }
      if (floor <= this.compactedTo) return 0;
      const { purged } = await this.jsm.streams.purge(stream, { seq: floor + 1 });
      this.compactedTo = floor;
      return purged;
    } catch (error) {
      throw toTroupeError(error, `compact ${stream}`, this.options.publishTimeoutMs);
    }
  }

  async deadLetter(subject: string, data: Uint8Array, reason: string, detail: DeadLetterDetail = {}): Promise<void> {
    this.checkOpen();
    this.checkSize(subject, data);
    const h = headers();
    // Header values are single lines; the reason is for people, so it is flattened and bounded.
    h.set('Troupe-Reason', String(reason).replace(/[\r\n]+/g, ' ').slice(0, REASON_MAX_CHARS));
    h.set('Troupe-Original-Subject', subject);
    if (detail.incarnation !== undefined) h.set('Troupe-Incarnation', String(detail.incarnation));
    // The same rejected message dead-lettered twice (a retry, a redelivery) is stored once. Two messages
    // with equal bytes on one subject are one message here: envelopes carry a unique id, so that is sound.
    const msgID = `dlq-${createHash('sha256').update(subject).update('\0').update(data).digest('hex')}`;
    await this.publish(this.dlqSubject(subject), data, { msgID, headers: h }, `dead-letter ${subject}`);
  }

  async deadLetterCount(): Promise<number> {
    try {
      return (await this.jsm.streams.info(this.names.dlq)).state.messages;
    } catch (error) {
      throw toTroupeError(error, `read ${this.names.dlq}`, this.options.publishTimeoutMs);
    }
  }

  async deadLetters(query: { readonly fromSeq?: number; readonly limit?: number } = {}): Promise<StoredDeadLetter[]> {
    this.checkOpen();
    const limit = query.limit ?? 100;
    const found: StoredDeadLetter[] = [];
    let seq = Math.max(1, query.fromSeq ?? 1);
    try {
      while (found.length < limit) {
        const request = { seq, next_by_subj: `troupe.${this.options.system}.dlq.>` } as unknown as { seq: number };
        const stored = await this.jsm.streams.getMessage(this.names.dlq, request);
        if (!stored) break;
        const incarnation = stored.header?.get('Troupe-Incarnation');
        const entry: StoredDeadLetter = {
          dlqSeq: stored.seq,
          subject: stored.header?.get('Troupe-Original-Subject') || stored.subject,
          data: new Uint8Array(stored.data),
          reason: stored.header?.get('Troupe-Reason') ?? '',
          at: stored.time.getTime(),
        };
        found.push(incarnation ? { ...entry, incarnation: Number(incarnation) } : entry);
        seq = stored.seq + 1;
      }
    } catch (error) {
      throw toTroupeError(error, `read ${this.names.dlq}`, this.options.publishTimeoutMs);
    }
    return found;
  }

  async close(): Promise<void> {
    this.closed = true;
    const stopping = [...this.consumers.values()].map((c) => c.stop());
    this.consumers.clear();
    await Promise.all(stopping);
  }

  /** Publishes, retrying a transient "JetStream unavailable" with the same msgID (no duplicate can result). */
  private async publish(subject: string, data: Uint8Array, opts: { msgID: string; headers?: ReturnType<typeof headers> }, what: string) {
    const timeout = this.options.publishTimeoutMs;
    const deadline = Date.now() + this.options.appendRetryMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.js.publish(subject, data, { ...opts, timeout });
      } catch (error) {
        const typed: TroupeError = toTroupeError(error, what, timeout);
        const delayMs = backoffDelay(APPEND_BACKOFF, attempt);
        if (!isJetStreamUnavailable(error) || this.closed || Date.now() + delayMs > deadline) throw typed;
        this.report({ type: 'rt.mbox.append-retry', subject, attempt, delayMs, error: typed });
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }

  /** `troupe.S.mbox.3.a.b` -> `troupe.S.dlq.mbox.3.a.b`; a subject of another shape -> `troupe.S.dlq._foreign`. */
  private dlqSubject(subject: string): string {
    const prefix = `troupe.${this.options.system}.`;
    const rest = subject.startsWith(prefix) ? subject.slice(prefix.length) : '';
    return `${prefix}dlq.${/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(rest) ? rest : '_foreign'}`;
  }

  private checkSize(subject: string, data: Uint8Array): void {
    const max = this.options.maxMsgBytes;
    if (max !== undefined && data.byteLength > max) {
      throw new NonRetryableError(`message to ${subject} is ${data.byteLength} bytes, over maxMsgBytes ${max}`, { type: 'MessageTooLarge' });
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new NonRetryableError('mailbox log is closed', { type: 'Closed' });
  }
}
