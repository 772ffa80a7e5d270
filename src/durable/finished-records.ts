/**
 * Bounded growth of durable records (issue 8). A durable actor's record lives in the snapshot store while the
 * actor is active; once it is final (done, stopped, failed) it moves to the finished store, whose retention
 * (a KV bucket TTL on NATS) compacts it. So the snapshot store holds only active actors: it IS the per-system
 * index of active actors that `recover()` lists, and no record ever written stays there.
 *
 * The move is put-then-delete: a reader that looks in the snapshot store first and then in the finished store
 * (`readFinalOrActive`) always finds the record. A crash between the two steps leaves a final record in the
 * snapshot store; `recover()` finishes the move (idempotent). The delete names the revision it moves, so a
 * fresh actor spawned at the same address meanwhile keeps its record.
 */
import type { SnapshotStore, StoredValue } from '../persistence/snapshot-store.js';

/** Copies a final record to the finished store, then removes it from the snapshot store (only that revision). */
export async function moveToFinished(store: SnapshotStore, finished: SnapshotStore, key: string, value: Uint8Array, revision: number): Promise<void> {
  await finished.put(key, value);
  await store.delete(key, revision);
}

/** The record at `key`: the active one (or a final one not moved yet), else the finished one, else undefined. */
export async function readRecordBytes(store: SnapshotStore, finished: SnapshotStore | undefined, key: string): Promise<StoredValue | undefined> {
  return (await store.get(key)) ?? (await finished?.get(key));
}

/** Defaults of `createSystem({ nats: { retention } })`. */
export const DURABLE_RETENTION_DEFAULTS = Object.freeze({
  /** A finished record is kept this long, ms (the finished bucket's TTL): 7 days. */
  finishedMs: 7 * 24 * 3_600_000,
  /** The mailbox stream is compacted after this many messages applied by a node. */
  purgeEvery: 1_000,
});
