/**
 * Bounded growth of durable records (issue 8). A durable actor's record lives in the snapshot store while the
 * actor is active; once it is final (done, stopped, failed) it moves to the finished store, whose retention
 * (a KV bucket TTL on NATS) compacts it. So the snapshot store holds only active actors: it IS the per-system
 * index of active actors that `recover()` lists, and no record ever written stays there.
 *
 * An actor that finishes writes its final record straight to the finished store and then deletes its active
 * record, naming the revision it last wrote (the delete fences a stale writer, as a put with the expected revision
 * does): two operations, not a final write plus a move. A crash between the two leaves the last active record
 * beside a newer final one; every reader of an active record checks for that (`supersededBy`) and finishes the
 * delete. A final record left in the snapshot store by an older version is moved by `recover()` (idempotent).
 */
import type { SnapshotStore, StoredValue } from '../persistence/snapshot-store.js';
import { decodeRecord, type DurableRecord } from './durable-record.js';

/**
 * The final record that ends the actor whose active record is `active`, when the finished store holds one written
 * after it (its finish was cut short before the active record was deleted); else undefined. A final record older
 * than the active one belongs to an earlier actor at the same address.
 */
export async function supersededBy(finished: SnapshotStore | undefined, key: string, active: DurableRecord): Promise<{ record: DurableRecord; stored: StoredValue } | undefined> {
  const stored = await finished?.get(key);
  if (stored === undefined) return undefined;
  const record = decodeRecord(stored.value);
  const newer = record.updatedAt >= active.updatedAt && record.incarnation >= active.incarnation && record.lastSeq >= active.lastSeq;
  return newer ? { record, stored } : undefined;
}

/**
 * True when a newer final record supersedes the active record `active` (stored at `revision`): the finish that was
 * cut short is completed here by deleting the active record (only that revision). A failed read throws; a failed
 * delete goes to `deleteFailed` when given (the record is superseded all the same), else throws.
 */
export async function finishSuperseded(
  store: SnapshotStore,
  finished: SnapshotStore | undefined,
  key: string,
  active: DurableRecord,
  revision: number,
  deleteFailed?: (error: unknown) => void,
): Promise<boolean> {
  if (!(await supersededBy(finished, key, active))) return false;
  await store.delete(key, revision).catch((error: unknown) => {
    if (!deleteFailed) throw error;
    deleteFailed(error);
  });
  return true;
}

/** Copies a final record to the finished store, then removes it from the snapshot store (only that revision). */
export async function moveToFinished(store: SnapshotStore, finished: SnapshotStore, key: string, value: Uint8Array, revision: number): Promise<void> {
  await finished.put(key, value);
  await store.delete(key, revision);
}

/** The record at `key`: the active one (unless a newer final one supersedes it), else the finished one, else undefined. */
export async function readRecordBytes(store: SnapshotStore, finished: SnapshotStore | undefined, key: string): Promise<StoredValue | undefined> {
  const stored = await store.get(key);
  if (stored === undefined) return finished?.get(key);
  const record = decodeRecord(stored.value);
  if (record.status !== 'active') return stored;
  return (await supersededBy(finished, key, record))?.stored ?? stored;
}

/** Defaults of `createSystem({ nats: { retention } })`. */
export const DURABLE_RETENTION_DEFAULTS = Object.freeze({
  /** A finished record is kept this long, ms (the finished bucket's TTL): 7 days. */
  finishedMs: 7 * 24 * 3_600_000,
  /** The mailbox stream is compacted after this many messages applied by a node. */
  purgeEvery: 1_000,
});
