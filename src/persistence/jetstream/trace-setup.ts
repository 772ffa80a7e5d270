/**
 * Options and stream of the JetStream trace log (issue 8): validated before anything is created (STYLE §7),
 * the stream created when missing, its limits brought to the configured ones when it exists (all of them are
 * updatable on 2.9), refused when it cannot serve as a trace log.
 */
import { DiscardPolicy, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { InvalidConfigError } from '../../errors.js';
import { isStreamNotFound, toTroupeError } from './mailbox-errors.js';

export interface JetStreamTraceLogOptions {
  /** System name, `[A-Za-z0-9_-]+`: names the stream `TROUPE_<system>_TRACE` and the subjects. */
  readonly system: string;
  /** Replicas of a new stream: 1 (default) survives process kills, 3 the loss of a machine. */
  readonly replicas?: number;
  /** Age after which entries are deleted, ms. Default 7 days. */
  readonly maxAgeMs?: number;
  /** Size of the whole stream, bytes; the oldest entries go first. Default 1 GiB. */
  readonly maxBytes?: number;
  /** How long a publish's msgId is remembered, ms. Default 120,000. Past it, the expected-last-subject-sequence check still dedupes. */
  readonly duplicateWindowMs?: number;
  /** Wait for one publish ack (and one API call of a read), ms. Default 5,000. */
  readonly publishTimeoutMs?: number;
  /** How long one entry's publish is retried through transient failures, ms, before it is given up (reported). Default 60,000. */
  readonly appendRetryMs?: number;
  /** Publishes in flight at once (pipelined, never awaited one by one). Default 256. */
  readonly window?: number;
  /** Entries queued (not yet stored) at most; more are dropped and reported. Default 10,000. */
  readonly maxQueued?: number;
  /** Default bound of one `read`, ms. Default 5,000. */
  readonly readTimeoutMs?: number;
}

export const JETSTREAM_TRACE_DEFAULTS = Object.freeze({
  replicas: 1,
  maxAgeMs: 7 * 24 * 3_600_000,
  maxBytes: 1024 ** 3,
  duplicateWindowMs: 120_000,
  publishTimeoutMs: 5_000,
  appendRetryMs: 60_000,
  window: 256,
  maxQueued: 10_000,
  readTimeoutMs: 5_000,
});

export type ResolvedTraceOptions = Required<JetStreamTraceLogOptions>;

/** Fills defaults and checks every field; throws InvalidConfigError naming the field. */
export function validateTraceOptions(options: JetStreamTraceLogOptions): ResolvedTraceOptions {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const o = { ...JETSTREAM_TRACE_DEFAULTS, ...given } as ResolvedTraceOptions;
  if (typeof o.system !== 'string' || !/^[A-Za-z0-9_-]+$/.test(o.system)) throw new InvalidConfigError('system', `${JSON.stringify(o.system)} must match [A-Za-z0-9_-]+`);
  const integer = (field: Exclude<keyof ResolvedTraceOptions, 'system'>, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const v = o[field];
    if (!(Number.isInteger(v) && v >= min && v <= max)) throw new InvalidConfigError(`trace.${field}`, `must be an integer from ${min} to ${max}`);
  };
  integer('replicas', 1, 5);
  for (const field of ['maxAgeMs', 'maxBytes', 'duplicateWindowMs', 'publishTimeoutMs', 'window', 'maxQueued', 'readTimeoutMs'] as const) integer(field, 1);
  integer('appendRetryMs', 0);
  if (o.duplicateWindowMs > o.maxAgeMs) throw new InvalidConfigError('trace.duplicateWindowMs', 'must not exceed maxAgeMs');
  return o;
}

export function traceStreamName(system: string): string {
  return `TROUPE_${system}_TRACE`;
}

/**
 * Creates `TROUPE_<system>_TRACE` (file storage, limits retention, one message per subject) when missing, or
 * updates an existing one's limits. `max_msgs_per_subject: 1` makes an entry id one message whatever happens to
 * the publish headers: a second publish on the subject replaces the first instead of adding a copy.
 */
export async function ensureTraceStream(jsm: JetStreamManager, o: ResolvedTraceOptions): Promise<string> {
  const name = traceStreamName(o.system);
  const subject = `troupe.${o.system}.trace.>`;
  const limits: Partial<StreamConfig> = {
    max_age: nanos(o.maxAgeMs),
    max_bytes: o.maxBytes,
    max_msgs_per_subject: 1,
    duplicate_window: nanos(o.duplicateWindowMs),
  };
  try {
    const existing = await jsm.streams.info(name).catch((error: unknown) => {
      if (isStreamNotFound(error)) return undefined;
      throw error;
    });
    if (!existing) {
      await jsm.streams.add({
        ...limits, name, subjects: [subject], retention: RetentionPolicy.Limits, storage: StorageType.File, discard: DiscardPolicy.Old, num_replicas: o.replicas,
      });
      return name;
    }
    if (!existing.config.subjects?.includes(subject)) throw new InvalidConfigError('system', `stream ${name} exists without subject ${subject}`);
    const c = existing.config;
    if (c.max_age !== limits.max_age || c.max_bytes !== limits.max_bytes || c.max_msgs_per_subject !== 1 || c.duplicate_window !== limits.duplicate_window) {
      await jsm.streams.update(name, limits);
    }
    return name;
  } catch (error) {
    throw error instanceof InvalidConfigError ? error : toTroupeError(error, `create stream ${name}`, o.publishTimeoutMs);
  }
}
