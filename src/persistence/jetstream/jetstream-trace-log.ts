/**
 * TraceLog over NATS JetStream (issue 8; `@nats-io/jetstream` v3, nats-server >= 2.9).
 *
 * - Stream `TROUPE_<system>_TRACE` (trace-setup.ts): subject `troupe.<system>.trace.<workflowId>.<entryId>`,
 *   file storage, bounded by age and bytes, `max_msgs_per_subject: 1`.
 * - An entry is stored once. Each publish carries `Nats-Msg-Id: <workflowId>.<entryId>` (a repeat within the
 *   duplicate window is acked `duplicate`) and `Nats-Expected-Last-Subject-Sequence: 0` (a repeat after the
 *   window is refused with "wrong last sequence", code 10071, which counts as stored). So the first copy and
 *   its position win whenever the re-run comes (measured on 2.9.10).
 * - `append` queues; the pump runs once per turn of the event loop (setImmediate) and publishes each
 *   workflow's queued entries as one batch message (at most BATCH_ENTRIES entries, BATCH_BYTES bytes), up to
 *   `window` publishes in flight (pipelined in queue order, never awaited one by one by the caller). A batch's
 *   subject and msgId are those of its first entry, and it carries the header `Troupe-Trace-Batch`. One publish
 *   per workflow and turn instead of one per entry: a ten-step workflow writes a few messages, not thirty.
 *   A re-run may cut its batches elsewhere (timing decides): a batch whose first entry is stored is a repeat
 *   and is dropped by the server as above; one that starts with a new entry is stored, and `read` keeps the first
 *   copy of every entry id, in stream order. A transient failure (timeout, JetStream unavailable) pauses the pump
 *   and puts the failed batches back at the head in their order, retried with the same headers for up to
 *   `appendRetryMs`; then, or on a permanent failure, the batch is given up. Both are reported, never thrown.
 *   Order caveat: a batch whose publish failed while a later one in the same window succeeded is stored after it.
 * - `read` flushes this log's queue (read-your-writes), counts the workflow's subjects (`subjects_filter`, so an
 *   empty history costs one call), then reads them with an ordered consumer filtered on
 *   `troupe.<system>.trace.<workflowId>.>` until `pending` is 0, in stream order, bounded by `timeoutMs`; batches
 *   are unpacked and each entry id kept once (a message without the batch header is one entry).
 * The log does not own the connection.
 */
import { jetstream, jetstreamManager, JetStreamApiError, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { backoffDelay } from '../../backoff.js';
import { decode, encode } from '../../codec/index.js';
import { RetryableError, TimeoutError, type TroupeError } from '../../errors.js';
import { checkTraceTokens, traceSubject, type TraceLog, type TraceReadOptions, type TraceRecord } from '../trace-log.js';
import { toTroupeError } from './mailbox-errors.js';
import { ensureTraceStream, validateTraceOptions, type JetStreamTraceLogOptions, type ResolvedTraceOptions } from './trace-setup.js';

export { JETSTREAM_TRACE_DEFAULTS, traceStreamName, type JetStreamTraceLogOptions } from './trace-setup.js';

export type TraceLogEvent =
  /** A publish met a transient failure; the entry is retried (same msgId) after `delayMs`. */
  | { readonly type: 'rt.trace.append-retry'; readonly subject: string; readonly attempt: number; readonly delayMs: number; readonly error: TroupeError }
  /** An entry was given up: a permanent failure, retries exhausted, the queue full, or the log closed. */
  | { readonly type: 'rt.trace.append-failed'; readonly subject: string; readonly reason: string; readonly error?: TroupeError };

/** Server codes of an expected-last-subject-sequence refusal: the entry id is already stored. */
const WRONG_LAST_SEQUENCE = new Set([10071, 10164]);

/** Entries of one workflow per batch message, at most (and at most BATCH_BYTES of entry data). */
const BATCH_ENTRIES = 256;
const BATCH_BYTES = 256 * 1024;
const BATCH_HEADER = 'Troupe-Trace-Batch';

/** An entry waiting to be batched. */
interface Queued {
  readonly workflowId: string;
  readonly id: string;
  readonly data: Uint8Array;
  readonly since: number;
}

/** One publish: a workflow's entries, under its first entry's subject and msgId. */
interface Pending {
  readonly workflowId: string;
  readonly items: readonly Queued[];
  readonly subject: string;
  readonly data: Uint8Array;
  readonly msgId: string;
  readonly entries: number;
  /** Queue order, so retried batches go back in it. */
  readonly n: number;
  readonly since: number;
  attempt: number;
}

/** A read that timed out stops its consumer instead of waiting on it forever. */
interface ReadStop {
  requested: boolean;
  cancel?: () => void;
}

/**
 * Creates (or opens) the trace stream and returns the log.
 * @example
 * const traces = await createJetStreamTraceLog(nc, { system: 'support' }, (e) => log.warn(e, e.type));
 * traces.append('ticket-42', entryId, bytes);
 */
export async function createJetStreamTraceLog(nc: NatsConnection, options: JetStreamTraceLogOptions, onEvent?: (event: TraceLogEvent) => void): Promise<TraceLog> {
  const o = validateTraceOptions(options);
  const jsm = await jetstreamManager(nc, { timeout: o.publishTimeoutMs }).catch((e: unknown) => {
    throw toTroupeError(e, 'open JetStream', o.publishTimeoutMs);
  });
  const stream = await ensureTraceStream(jsm, o);
  return new JetStreamTraceLog(jetstream(nc, { timeout: o.publishTimeoutMs }), jsm, stream, o, onEvent ?? (() => {}));
}

class JetStreamTraceLog implements TraceLog {
  readonly kind = 'jetstream';
  private readonly queue: Queued[] = [];
  /** Batches to send before the queue: retried ones, back in their order. */
  private readonly ready: Pending[] = [];
  private inFlight = 0;
  /** Entries accepted and neither stored nor given up yet (queued, batched, in flight, waiting to retry). */
  private held = 0;
  private scheduled = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly retrying: Pending[] = [];
  private idle: Array<() => void> = [];
  private closed = false;
  private appended = 0;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly o: ResolvedTraceOptions,
    private readonly report: (event: TraceLogEvent) => void,
  ) {}

  append(workflowId: string, entryId: string, data: Uint8Array): void {
    checkTraceTokens(workflowId, entryId);
    // The subject of a batch is its first entry's, built when the batch is (an entry's own only for a report).
    if (this.closed) return this.giveUp(traceSubject(this.o.system, workflowId, entryId), 'the trace log is closed');
    if (this.held >= this.o.maxQueued) return this.giveUp(traceSubject(this.o.system, workflowId, entryId), `more than ${this.o.maxQueued} entries queued`);
    this.queue.push({ workflowId, id: entryId, data, since: Date.now() });
    this.held++;
    this.schedule();
  }

  /** Once per turn of the event loop: what a turn appends for a workflow goes out as one batch. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.pump());
  }


  flush(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  async read(workflowId: string, options: TraceReadOptions = {}): Promise<TraceRecord[]> {
    checkTraceTokens(workflowId);
    const timeoutMs = options.timeoutMs ?? this.o.readTimeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`reading the trace of ${workflowId} took over ${timeoutMs} ms`, timeoutMs)), timeoutMs);
    });
    const stop: ReadStop = { requested: false };
    try {
      return await Promise.race([this.readAll(workflowId, stop), expired]);
    } finally {
      stop.requested = true;
      stop.cancel?.();
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // The last entries (a shutdown's) get one publish timeout to land; whatever is left then is given up.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.flush(), new Promise((resolve) => (timer = setTimeout(resolve, this.o.publishTimeoutMs)))]);
    clearTimeout(timer);
    this.closed = true;
    clearTimeout(this.retryTimer);
    for (const p of [...this.retrying, ...this.ready.splice(0)]) {
      this.held -= p.entries;
      this.giveUp(p.subject, `the trace log closed before ${p.entries} entries were stored`);
    }
    for (const q of this.queue.splice(0)) {
      this.held--;
      this.giveUp(traceSubject(this.o.system, q.workflowId, q.id), 'the trace log closed before the entry was stored');
    }
    this.retrying.length = 0;
    this.settleIfIdle();
  }

  private async readAll(workflowId: string, stop: ReadStop): Promise<TraceRecord[]> {
    await this.flush();
    const filter = traceSubject(this.o.system, workflowId);
    const what = `read the trace of ${workflowId}`;
    try {
      const info = await this.jsm.streams.info(this.stream, { subjects_filter: filter });
      if (Object.keys(info.state.subjects ?? {}).length === 0) return [];
      const consumer = await this.js.consumers.get(this.stream, { filter_subjects: filter });
      if (stop.requested) return [];
      const messages = await consumer.consume({ max_messages: 1_000 });
      stop.cancel = () => void messages.close().catch(() => {});
      const records: TraceRecord[] = [];
      const seen = new Set<string>();
      const keep = (id: string, data: Uint8Array) => {
        if (seen.has(id)) return; // a re-run's batch that repeats entries stored before
        seen.add(id);
        records.push({ id, data });
      };
      try {
        for await (const m of messages) {
          if (stop.requested) break;
          if (m.headers?.has(BATCH_HEADER)) for (const [id, data] of decode(m.data) as Array<[string, Uint8Array]>) keep(id, data);
          else keep(m.subject.slice(filter.length - 1), m.data);
          if (m.info.pending === 0) break;
        }
      } finally {
        await messages.close().catch(() => {});
      }
      return records;
    } catch (error) {
      throw toTroupeError(error, what, this.o.publishTimeoutMs);
    }
  }

  private pump(): void {
    this.scheduled = false;
    if (this.ready.length === 0 && this.queue.length > 0) this.batch();
    while (!this.retryTimer && this.inFlight < this.o.window && this.ready.length > 0) {
      this.send(this.ready.shift()!);
      if (this.ready.length === 0 && this.queue.length > 0) this.batch();
    }
    this.settleIfIdle();
  }

  /** Groups the queue by workflow (each workflow's entries in append order) into batches, in first-entry order. */
  private batch(): void {
    const groups = new Map<string, Queued[]>();
    for (const q of this.queue.splice(0)) {
      let group = groups.get(q.workflowId);
      if (!group) groups.set(q.workflowId, (group = []));
      group.push(q);
    }
    for (const [workflowId, entries] of groups) {
      for (let i = 0; i < entries.length; ) {
        const chunk: Queued[] = [];
        let bytes = 0;
        while (i < entries.length && chunk.length < BATCH_ENTRIES && (chunk.length === 0 || bytes + entries[i]!.data.byteLength <= BATCH_BYTES)) {
          bytes += entries[i]!.data.byteLength;
          chunk.push(entries[i++]!);
        }
        this.ready.push(this.batchOf(workflowId, chunk, this.appended++));
      }
    }
  }

  private batchOf(workflowId: string, items: readonly Queued[], n: number): Pending {
    const first = items[0]!;
    return {
      workflowId,
      items,
      subject: traceSubject(this.o.system, workflowId, first.id),
      data: encode(items.map((q) => [q.id, q.data])),
      msgId: `${workflowId}.${first.id}`,
      entries: items.length,
      n,
      since: first.since,
      attempt: 0,
    };
  }

  /**
   * The server holds the batch's first entry already (a re-run): the batch was not stored, so the entries after
   * the first go out again as their own batch (each repeat costs one round trip; new entries are never lost).
   */
  private repeated(p: Pending): void {
    if (p.items.length <= 1) return;
    this.ready.unshift(this.batchOf(p.workflowId, p.items.slice(1), p.n));
    this.held += p.items.length - 1; // still to store (the caller let go of the whole batch)
  }

  private send(p: Pending): void {
    this.inFlight++;
    p.attempt++;
    const h = natsHeaders();
    h.set(BATCH_HEADER, String(p.entries));
    this.js.publish(p.subject, p.data, { msgID: p.msgId, expect: { lastSubjectSequence: 0 }, timeout: this.o.publishTimeoutMs, headers: h }).then(
      (ack) => this.done(p, ack.duplicate),
      (error: unknown) => this.failed(p, error),
    );
  }

  private done(p: Pending, duplicate: boolean): void {
    this.inFlight--;
    this.held -= p.entries;
    if (duplicate) this.repeated(p); // within the duplicate window: acked without being stored
    this.pump();
  }

  private failed(p: Pending, error: unknown): void {
    this.inFlight--;
    if (error instanceof JetStreamApiError && WRONG_LAST_SEQUENCE.has(error.code)) {
      this.held -= p.entries;
      this.repeated(p); // the first entry is stored before: its first copy wins
      return this.pump();
    }
    const typed = toTroupeError(error, `append ${p.subject}`, this.o.publishTimeoutMs);
    const transient = typed instanceof RetryableError || typed instanceof TimeoutError;
    if (!transient || this.closed || Date.now() - p.since >= this.o.appendRetryMs) {
      this.held -= p.entries;
      this.giveUp(p.subject, transient ? `not stored within ${this.o.appendRetryMs} ms` : 'refused', typed);
      return this.pump();
    }
    this.retrying.push(p);
    if (!this.retryTimer) {
      const delayMs = backoffDelay({ minMs: 100, maxMs: 5_000, factor: 2, jitter: 0.2 }, p.attempt);
      this.report({ type: 'rt.trace.append-retry', subject: p.subject, attempt: p.attempt, delayMs, error: typed });
      this.retryTimer = setTimeout(() => this.resume(), delayMs);
    }
  }

  /** After a retry delay: the failed entries go back to the head of the queue in their original order. */
  private resume(): void {
    this.retryTimer = undefined;
    const back = this.retrying.splice(0).sort((a, b) => a.n - b.n);
    this.ready.unshift(...back);
    this.pump();
  }

  private giveUp(subject: string, reason: string, error?: TroupeError): void {
    this.report(error ? { type: 'rt.trace.append-failed', subject, reason, error } : { type: 'rt.trace.append-failed', subject, reason });
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && this.ready.length === 0 && this.inFlight === 0 && this.retrying.length === 0 && !this.retryTimer && !this.scheduled;
  }

  private settleIfIdle(): void {
    if (!this.isIdle() || this.idle.length === 0) return;
    const waiters = this.idle;
    this.idle = [];
    for (const resolve of waiters) resolve();
  }
}
