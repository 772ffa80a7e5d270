/**
 * Options, streams and durable consumers of the JetStream mailbox log: validated before anything is created
 * (normalize, then validate; STYLE §7), created when missing, left as they are when they exist (an existing
 * stream keeps its own limits), refused when an existing one cannot serve this log.
 */
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type Consumer,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { InvalidConfigError } from '../../errors.js';
import type { JetStreamMailboxLogOptions, ResolvedMailboxOptions } from './jetstream-mailbox-log.js';
import { isConsumerNotFound, isStreamNotFound, toTroupeError } from './mailbox-errors.js';

/** Defaults of the optional fields of JetStreamMailboxLogOptions (and of `consume`'s batch). */
export const JETSTREAM_MAILBOX_DEFAULTS = Object.freeze({
  replicas: 1,
  ackWaitMs: 30_000,
  duplicateWindowMs: 120_000,
  maxAckPending: 1_000,
  publishTimeoutMs: 5_000,
  appendRetryMs: 15_000,
  batch: 100,
});

/** Defaults of the dead-letter stream's limits (JetStreamMailboxLogOptions.deadLetters); -1 = unlimited. */
export const DEAD_LETTER_DEFAULTS = Object.freeze({
  maxAgeMs: 30 * 24 * 3_600_000,
  maxBytes: 1024 ** 3,
  maxMsgs: -1,
});

/** Fills defaults and checks every field; throws InvalidConfigError naming the field. */
export function validateOptions(options: JetStreamMailboxLogOptions): ResolvedMailboxOptions {
  const { batch: _batch, ...defaults } = JETSTREAM_MAILBOX_DEFAULTS;
  const deadLetters = { ...DEAD_LETTER_DEFAULTS, ...withoutUndefined(options.deadLetters ?? {}) };
  for (const field of ['maxAgeMs', 'maxBytes', 'maxMsgs'] as const) {
    const v = deadLetters[field];
    const unlimited = field === 'maxMsgs' && v === DEAD_LETTER_DEFAULTS.maxMsgs;
    if (!unlimited && !(Number.isInteger(v) && v >= 1)) throw new InvalidConfigError(`deadLetters.${field}`, 'must be an integer >= 1');
  }
  const o = { ...defaults, ...withoutUndefined(options), deadLetters };
  if (typeof o.system !== 'string' || !/^[A-Za-z0-9_-]+$/.test(o.system)) throw new InvalidConfigError('system', `${JSON.stringify(o.system)} must match [A-Za-z0-9_-]+`);
  const integer = (field: keyof typeof o, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const v = o[field];
    if (!(Number.isInteger(v) && (v as number) >= min && (v as number) <= max)) throw new InvalidConfigError(field, `must be an integer from ${min} to ${max}`);
  };
  integer('shards', 1, 100_000);
  integer('replicas', 1, 5);
  integer('maxAckPending', 1);
  for (const field of ['ackWaitMs', 'duplicateWindowMs', 'publishTimeoutMs'] as const) integer(field, 1);
  integer('appendRetryMs', 0);
  if (o.maxMsgBytes !== undefined) integer('maxMsgBytes', 1);
  if (o.maxAgeMs !== undefined) integer('maxAgeMs', 1);
  const { onEvent: _ignored, ...resolved } = o;
  return resolved;
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

export function streamNames(system: string): { mbox: string; dlq: string } {
  return { mbox: `TROUPE_${system}_MBOX`, dlq: `TROUPE_${system}_DLQ` };
}

/** Creates the mailbox and dead-letter streams when missing; returns their names. */
export async function ensureStreams(jsm: JetStreamManager, o: ResolvedMailboxOptions): Promise<{ mbox: string; dlq: string }> {
  const names = streamNames(o.system);
  const common: Partial<StreamConfig> = {
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    num_replicas: o.replicas,
    duplicate_window: nanos(o.duplicateWindowMs),
    max_msg_size: o.maxMsgBytes ?? -1,
  };
  await ensureStream(jsm, { ...common, name: names.mbox, subjects: [`troupe.${o.system}.mbox.>`], max_age: nanos(o.maxAgeMs ?? 0) }, o.publishTimeoutMs);
  // Dead letters are kept for people to look at, within their own limits (updated on an existing stream).
  const { maxAgeMs, maxBytes, maxMsgs } = o.deadLetters;
  // JetStream refuses a duplicate window longer than max_age: a short-lived DLQ dedupes for its age only.
  const limits = { max_age: nanos(maxAgeMs), max_bytes: maxBytes, max_msgs: maxMsgs, duplicate_window: nanos(Math.min(o.duplicateWindowMs, maxAgeMs)) };
  await ensureStream(jsm, { ...common, ...limits, name: names.dlq, subjects: [`troupe.${o.system}.dlq.>`] }, o.publishTimeoutMs, limits);
  return names;
}

/** `limits`: fields an existing stream is brought to when it differs (all updatable on 2.9). */
async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string; subjects: string[] },
  timeoutMs: number,
  limits?: Pick<StreamConfig, 'max_age' | 'max_bytes' | 'max_msgs' | 'duplicate_window'>,
): Promise<void> {
  try {
    const existing = await jsm.streams.info(config.name).catch((error: unknown) => {
      if (isStreamNotFound(error)) return undefined;
      throw error;
    });
    if (!existing) {
      await jsm.streams.add(config);
      return;
    }
    const [subject] = config.subjects;
    if (!existing.config.subjects?.includes(subject!)) {
      throw new InvalidConfigError('system', `stream ${config.name} exists without subject ${subject}`);
    }
    if (limits && (Object.keys(limits) as (keyof typeof limits)[]).some((field) => existing.config[field] !== limits[field])) {
      await jsm.streams.update(config.name, { ...existing.config, ...limits });
    }
  } catch (error) {
    throw error instanceof InvalidConfigError ? error : toTroupeError(error, `create stream ${config.name}`, timeoutMs);
  }
}

export interface ShardConsumerSetup {
  readonly stream: string;
  readonly system: string;
  readonly shard: number;
  readonly ackWaitMs: number;
  readonly maxAckPending: number;
}

/**
 * Creates the durable consumer `mbox-<shard>` when missing, and brings ack_wait and max_ack_pending of an
 * existing one to the requested values (both updatable on 2.9). Deliver-all: a consumer created after
 * messages were appended still gets them.
 */
export async function ensureShardConsumer(jsm: JetStreamManager, s: ShardConsumerSetup): Promise<void> {
  const name = `mbox-${s.shard}`;
  const filter = `troupe.${s.system}.mbox.${s.shard}.>`;
  const info = await jsm.consumers.info(s.stream, name).catch((error: unknown) => {
    if (isConsumerNotFound(error)) return undefined;
    throw error;
  });
  if (!info) {
    await jsm.consumers.add(s.stream, {
      durable_name: name,
      filter_subject: filter,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(s.ackWaitMs),
      max_ack_pending: s.maxAckPending,
      // Unlimited deliveries: a poison message is the caller's to dead-letter and term().
      max_deliver: -1,
    });
    return;
  }
  if (info.config.filter_subject !== filter) {
    throw new InvalidConfigError('shards', `consumer ${name} of ${s.stream} filters ${info.config.filter_subject}, expected ${filter}`);
  }
  if (info.config.ack_wait !== nanos(s.ackWaitMs) || info.config.max_ack_pending !== s.maxAckPending) {
    await jsm.consumers.update(s.stream, name, { ack_wait: nanos(s.ackWaitMs), max_ack_pending: s.maxAckPending });
  }
}

/** The shard's consumer, re-created when it is gone (the consume loop's way back after a lost consumer). */
export async function openShardConsumer(js: JetStreamClient, jsm: JetStreamManager, s: ShardConsumerSetup): Promise<Consumer> {
  try {
    return await js.consumers.get(s.stream, `mbox-${s.shard}`);
  } catch (error) {
    if (!(isConsumerNotFound(error))) throw error;
    await ensureShardConsumer(jsm, s);
    return js.consumers.get(s.stream, `mbox-${s.shard}`);
  }
}
