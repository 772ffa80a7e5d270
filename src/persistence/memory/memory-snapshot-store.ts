/** The embedded default snapshot store: a Map with the same revision semantics as NATS KV. */
import type { PutResult, SnapshotStore, StoredValue } from '../snapshot-store.js';

export function createMemorySnapshotStore(): SnapshotStore {
  const entries = new Map<string, StoredValue>();
  let sequence = 0; // one counter for the store, like a KV bucket's stream sequence

  return {
    kind: 'memory',
    async get(key) {
      return entries.get(key);
    },
    async put(key, value, expectedRevision): Promise<PutResult> {
      const current = entries.get(key);
      if (expectedRevision !== undefined) {
        const matches = expectedRevision === null ? current === undefined : current?.revision === expectedRevision;
        if (!matches) return { ok: false, reason: 'revision-mismatch', expected: expectedRevision };
      }
      const revision = ++sequence;
      entries.set(key, { value: value.slice(), revision });
      return { ok: true, revision };
    },
    async delete(key) {
      entries.delete(key);
    },
    async keys(prefix) {
      const all = [...entries.keys()];
      return prefix === undefined ? all : all.filter((k) => k === prefix || k.startsWith(`${prefix}.`));
    },
    async close() {
      entries.clear();
    },
  };
}
