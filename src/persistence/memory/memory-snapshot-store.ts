/**
 * The embedded default snapshot store: a Map with the same revision semantics as NATS KV, and the same
 * key rules, so code that runs here does not fail on its first NATS deployment (contract suite:
 * test/contract/snapshot-store.case.ts). Values are copied in and out, as bytes over a wire would be.
 */
import { InvalidAddressError } from '../../errors.js';
import type { PutResult, SnapshotStore, StoredValue } from '../snapshot-store.js';

const KEY = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export function createMemorySnapshotStore(): SnapshotStore {
  const entries = new Map<string, StoredValue>();
  let sequence = 0; // one counter for the store, like a KV bucket's stream sequence

  return {
    kind: 'memory',
    async get(key) {
      checkKey(key);
      const entry = entries.get(key);
      return entry && { value: entry.value.slice(), revision: entry.revision };
    },
    async put(key, value, expectedRevision): Promise<PutResult> {
      checkKey(key);
      const current = entries.get(key);
      if (expectedRevision !== undefined) {
        const matches = expectedRevision === null ? current === undefined : current?.revision === expectedRevision;
        if (!matches) return { ok: false, reason: 'revision-mismatch', expected: expectedRevision };
      }
      const revision = ++sequence;
      entries.set(key, { value: value.slice(), revision });
      return { ok: true, revision };
    },
    async delete(key, expectedRevision) {
      checkKey(key);
      if (expectedRevision !== undefined && entries.get(key)?.revision !== expectedRevision) return;
      entries.delete(key);
    },
    async keys(prefix) {
      const all = [...entries.keys()];
      if (prefix === undefined) return all;
      checkKey(prefix);
      return all.filter((k) => k === prefix || k.startsWith(`${prefix}.`));
    },
    // No deleted markers here: the candidates are the live keys.
    keyCandidates(prefix) {
      return this.keys(prefix);
    },
    async close() {
      entries.clear();
    },
  };
}

function checkKey(key: string): void {
  if (!KEY.test(key)) throw new InvalidAddressError(key, 'snapshot keys are dot-separated tokens of [A-Za-z0-9_-]');
}
