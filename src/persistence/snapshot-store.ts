/**
 * The snapshot store seam (L1): bytes only, with optimistic concurrency. One layer above adds the codec,
 * the schema version and the runtime metadata. `memory/` is the embedded default, `jetstream/` uses NATS KV.
 *
 * Keys are dot-separated tokens of `[A-Za-z0-9_-]` (safe as NATS KV keys): use `snapshotKey(address)`.
 * Fencing: `put(key, value, expectedRevision)` succeeds only when the stored revision equals the expected
 * one (`null` = only if absent), so a stale incarnation's write is refused rather than overwriting.
 */
import { addressTokens } from '../system/address.js';

export interface StoredValue {
  readonly value: Uint8Array;
  /** Monotonic per key; 0 is never a stored revision. */
  readonly revision: number;
}

/** A write conflict is a result value, not an exception: the caller decides what a stale write means. */
export type PutResult =
  | { readonly ok: true; readonly revision: number }
  | { readonly ok: false; readonly reason: 'revision-mismatch'; readonly expected: number | null };

export interface SnapshotStore {
  readonly kind: string;
  get(key: string): Promise<StoredValue | undefined>;
  /** `expectedRevision`: the revision last read, `null` to create only if absent, `undefined` to overwrite. */
  put(key: string, value: Uint8Array, expectedRevision?: number | null): Promise<PutResult>;
  /** With `expectedRevision`, deletes only while the stored revision still equals it (otherwise leaves the key as it is). */
  delete(key: string, expectedRevision?: number): Promise<void>;
  /** Keys that start with `prefix` (a whole number of tokens), in no particular order. */
  keys(prefix?: string): Promise<string[]>;
  /**
   * Keys that may exist under `prefix`, deleted ones included, without reading any value: for a caller that reads
   * only some of them and skips a deleted one itself (`get` answers undefined). Optional: `keys` serves otherwise.
   */
  keyCandidates?(prefix: string): Promise<string[]>;
  /**
   * Removes the markers that `delete` leaves behind (NATS KV keeps a tombstone per deleted key) older than
   * `olderThanMs`; resolves with how many went. Optional: a store without tombstones has nothing to do.
   */
  purgeDeletes?(olderThanMs: number): Promise<number>;
  close(): Promise<void>;
}

/** `support/triage/classifier` -> `support.triage.classifier`. Address segments are already key-safe. */
export function snapshotKey(address: string): string {
  return addressTokens(address);
}
