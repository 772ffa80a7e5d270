/**
 * What a durable actor persists at each durable point: the XState persisted snapshot plus the runtime's
 * metadata (logic name and version, last handled log sequence, pending timers as absolute due times, restart
 * count). Encoded with msgpackr; decoding validates every field, and a newer logic version runs `migrate`
 * or fails with VersionMismatchError — never a silent mismatch.
 */
import type { EventObject } from 'xstate';
import { decode, encode } from '../codec/index.js';
import { CodecError, VersionMismatchError } from '../errors.js';
import type { RegisteredLogic } from '../system/logic-registry.js';
import type { RestartType } from '../system/parent.js';

export const RECORD_VERSION = 1;

export interface PersistedTimer {
  /** XState's scheduled-event id (for `after`, the delayed event's type), so exits still cancel it. */
  readonly id: string;
  readonly event: EventObject;
  /** Absolute due time on the runtime clock, ms. */
  readonly dueAt: number;
}

/**
 * `active` runs (and is recovered); `done` reached a final state; `stopped` was stopped explicitly; `failed` was given
 * up by its supervisor (stop directive, or restart intensity exceeded). Only `active` is ever activated again.
 */
export type DurableStatus = 'active' | 'done' | 'stopped' | 'failed';

export interface DurableRecord {
  readonly v: number;
  readonly address: string;
  readonly parent: string;
  readonly logic: string;
  readonly version: number;
  readonly restart: RestartType;
  readonly input: unknown;
  readonly snapshot: unknown;
  readonly status: DurableStatus;
  /** The last mailbox-log sequence whose effects this snapshot includes; redeliveries at or below it are dropped. */
  readonly lastSeq: number;
  /** A fresh actor's floor: log messages at or below it were sent to an earlier actor of this address. */
  readonly birth?: number;
  /** Sequences above `lastSeq` already settled as dead letters (a failed handler's message): never applied. */
  readonly dead?: readonly number[];
  /** Outbound tells emitted since `lastSeq` was applied: the next one's index in its deterministic message id. */
  readonly out?: number;
  /** Restart times (runtime clock, ms) within the supervisor's intensity window: durable supervision. */
  readonly restarts?: readonly number[];
  readonly timers: readonly PersistedTimer[];
  readonly incarnation: number;
  readonly updatedAt: number;
  /**
   * The shard lease epoch of the node that wrote it (clustered nodes, shard-leases.ts): a node whose lease is older
   * never activates the actor; a newer owner rewrites the record with its epoch first.
   */
  readonly epoch?: number;
  /**
   * Written when the actor was unloaded from memory after being idle (passivation, issue 9): a node that takes its
   * shard over does not load it, and only wakes it at its earliest timer or on its next message. Any later write
   * of the running actor drops it.
   */
  readonly passive?: boolean;
}

export function encodeRecord(record: DurableRecord): Uint8Array {
  return encode(record);
}

export function decodeRecord(bytes: Uint8Array): DurableRecord {
  const value = decode(bytes) as Partial<DurableRecord> | null;
  if (typeof value !== 'object' || value === null) throw new CodecError('durable record is not a map');
  if (value.v !== RECORD_VERSION) throw new CodecError(`durable record version ${String(value.v)} is not ${RECORD_VERSION}`);
  for (const field of ['address', 'parent', 'logic', 'restart'] as const) {
    if (typeof value[field] !== 'string') throw new CodecError(`durable record.${field} must be a string`);
  }
  if (value.birth !== undefined && typeof value.birth !== 'number') throw new CodecError('durable record.birth must be a number');
  for (const field of ['version', 'lastSeq', 'incarnation', 'updatedAt'] as const) {
    if (typeof value[field] !== 'number') throw new CodecError(`durable record.${field} must be a number`);
  }
  if (!['active', 'done', 'stopped', 'failed'].includes(value.status as string)) throw new CodecError('durable record.status is invalid');
  if (!Array.isArray(value.timers)) throw new CodecError('durable record.timers must be an array');
  for (const field of ['dead', 'restarts'] as const) {
    const list = value[field];
    if (list !== undefined && !(Array.isArray(list) && list.every((n) => typeof n === 'number'))) throw new CodecError(`durable record.${field} must be an array of numbers`);
  }
  for (const field of ['out', 'epoch'] as const) {
    if (value[field] !== undefined && typeof value[field] !== 'number') throw new CodecError(`durable record.${field} must be a number`);
  }
  return value as DurableRecord;
}

/** The record's snapshot, migrated to the registered version; throws VersionMismatchError when it cannot be. */
export function snapshotForLogic(record: DurableRecord, entry: RegisteredLogic): unknown {
  if (record.logic !== entry.name) {
    throw new VersionMismatchError(`snapshot of ${record.address} was written by logic ${record.logic}, not ${entry.name}`, { address: record.address });
  }
  if (record.version === entry.version) return record.snapshot;
  if (record.version > entry.version) {
    throw new VersionMismatchError(`snapshot of ${record.address} is version ${record.version}, newer than the registered ${entry.version}`, {
      address: record.address,
      stored: record.version,
      registered: entry.version,
    });
  }
  if (!entry.migrate) {
    throw new VersionMismatchError(`snapshot of ${record.address} is version ${record.version}; logic ${entry.name} v${entry.version} has no migrate`, {
      address: record.address,
      stored: record.version,
      registered: entry.version,
    });
  }
  return entry.migrate(record.snapshot, record.version);
}
