/**
 * A journal of results already paid for (issue 10): model responses and tool results kept by a stable key before
 * the work that produced them is recorded as done, so a re-run after a crash reads them back instead of paying
 * again. On NATS it is the KV bucket `troupe_<system>_journal` (shared by every node); on the embedded default it
 * lives with the process. Values are plain data (msgpack on the wire).
 */
import { decode, encode } from '../codec/index.js';
import type { SnapshotStore } from '../persistence/snapshot-store.js';

export interface Journal<T = unknown> {
  /** The value kept under `key`, or undefined. */
  get(key: string): Promise<T | undefined>;
  /** Keeps `value` under `key` (the last put wins); resolves once stored. */
  put(key: string, value: T): Promise<void>;
}

/** A journal over a snapshot store; keys are `/`-separated tokens of `[A-Za-z0-9_-]` (dots allowed too). */
export function storeJournal<T>(open: () => Promise<SnapshotStore>): Journal<T> {
  let store: Promise<SnapshotStore> | undefined;
  const opened = () => (store ??= open());
  const keyOf = (key: string) => `journal.${key.split('/').join('.')}`;
  return {
    get: async (key) => {
      const stored = await (await opened()).get(keyOf(key));
      return stored === undefined ? undefined : (decode(stored.value) as T);
    },
    put: async (key, value) => {
      const bytes = encode(value);
      await (await opened()).put(keyOf(key), bytes);
    },
  };
}
