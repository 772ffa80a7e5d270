/**
 * The SnapshotStore contract: one behavioural suite for every implementation (STYLE §11, hono's
 * `common.case.test.ts`). The factory must return an empty store each call. Cases an implementation
 * legitimately cannot run are listed by the runner with a reason.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { CodecError, InvalidAddressError } from '../../src/errors.js';
import type { SnapshotStore } from '../../src/persistence/snapshot-store.js';

export interface SnapshotStoreContractOptions {
  /**
   * 'bounded' (default): a value over the store's limit fails with CodecError. 'unbounded': the store has no
   * size limit (an in-process Map), and the same large value must round-trip intact instead.
   */
  readonly valueSize?: 'bounded' | 'unbounded';
}

const bytes = (text: string) => new TextEncoder().encode(text);
const mismatch = (expected: number | null) => ({ ok: false, reason: 'revision-mismatch', expected });

/** Deterministic pseudo-random bytes (no Math.random: a failure must reproduce). */
function noise(length: number, seed = 7): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) out[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
}

export function describeSnapshotStoreContract(name: string, factory: () => Promise<SnapshotStore>, options: SnapshotStoreContractOptions = {}): void {
  describe(name, () => {
    let open: SnapshotStore[] = [];
    const make = async () => {
      const store = await factory();
      open.push(store);
      return store;
    };
    afterEach(async () => {
      await Promise.all(open.map((s) => s.close()));
      open = [];
    });

    test('get of a missing key is undefined', async () => {
      const s = await make();
      expect(await s.get('sys.nobody')).toBeUndefined();
    });

    test('bytes round-trip exactly: empty, every byte value, 100 KB', async () => {
      const s = await make();
      const values = { 'sys.empty': new Uint8Array(0), 'sys.all': Uint8Array.from({ length: 256 }, (_, i) => i), 'sys.big': noise(100 * 1024) };
      for (const [key, value] of Object.entries(values)) expect((await s.put(key, value)).ok).toBe(true);
      for (const [key, value] of Object.entries(values)) {
        const got = await s.get(key);
        expect(got?.value).toBeInstanceOf(Uint8Array);
        expect(got?.value.byteLength).toBe(value.byteLength);
        expect(Buffer.from(got!.value).equals(Buffer.from(value))).toBe(true);
      }
    });

    test('stored bytes are not aliased: mutating the written or the read array changes nothing', async () => {
      const s = await make();
      const written = bytes('abc');
      await s.put('sys.alias', written);
      written[0] = 0;
      const read = (await s.get('sys.alias'))!.value;
      read[1] = 0;
      expect([...(await s.get('sys.alias'))!.value]).toEqual([...bytes('abc')]);
    });

    test('revisions are positive and increase with every write, across keys', async () => {
      const s = await make();
      const revisions: number[] = [];
      for (const key of ['sys.a', 'sys.b', 'sys.a', 'sys.c', 'sys.a']) {
        const result = await s.put(key, bytes(key));
        if (!result.ok) throw new Error('write refused');
        revisions.push(result.revision);
        expect((await s.get(key))?.revision).toBe(result.revision);
      }
      expect(revisions[0]).toBeGreaterThan(0);
      for (let i = 1; i < revisions.length; i++) expect(revisions[i]).toBeGreaterThan(revisions[i - 1]!);
    });

    test('create-only (expected null) succeeds when absent and is refused when present', async () => {
      const s = await make();
      const first = await s.put('sys.actor', bytes('v1'), null);
      expect(first.ok).toBe(true);
      expect(await s.put('sys.actor', bytes('v2'), null)).toEqual(mismatch(null));
      expect(new TextDecoder().decode((await s.get('sys.actor'))!.value)).toBe('v1');
    });

    test('CAS fences a stale writer: an update with an old revision is refused and changes nothing', async () => {
      const s = await make();
      const r1 = await s.put('sys.actor', bytes('v1'), null);
      if (!r1.ok) throw new Error('create refused');
      const r2 = await s.put('sys.actor', bytes('v2'), r1.revision); // the live incarnation
      expect(r2.ok).toBe(true);
      if (!r2.ok) return;
      expect(r2.revision).toBeGreaterThan(r1.revision);
      expect(await s.put('sys.actor', bytes('zombie'), r1.revision)).toEqual(mismatch(r1.revision)); // the zombie
      expect(await s.get('sys.actor')).toEqual({ value: bytes('v2'), revision: r2.revision });
    });

    test('CAS on a missing key, or with revision 0, is refused', async () => {
      const s = await make();
      expect(await s.put('sys.ghost', bytes('x'), 5)).toEqual(mismatch(5));
      const r = await s.put('sys.real', bytes('x'), null);
      expect(r.ok).toBe(true);
      expect(await s.put('sys.real', bytes('y'), 0)).toEqual(mismatch(0));
      expect(await s.get('sys.ghost')).toBeUndefined();
    });

    test('delete removes the key; it can be created again, and its old revision no longer matches', async () => {
      const s = await make();
      const r1 = await s.put('sys.gone', bytes('v1'), null);
      if (!r1.ok) throw new Error('create refused');
      await s.delete('sys.gone');
      expect(await s.get('sys.gone')).toBeUndefined();
      expect(await s.keys('sys')).toEqual([]);
      expect(await s.put('sys.gone', bytes('stale'), r1.revision)).toEqual(mismatch(r1.revision));
      const again = await s.put('sys.gone', bytes('v2'), null);
      expect(again.ok).toBe(true);
      expect(new TextDecoder().decode((await s.get('sys.gone'))!.value)).toBe('v2');
      await s.delete('sys.never-written'); // deleting a missing key is not an error
    });

    test('delete with a revision deletes only that revision: a newer record stays, a missing key is no error', async () => {
      const s = await make();
      const r1 = await s.put('sys.moved', bytes('v1'), null);
      if (!r1.ok) throw new Error('create refused');
      const r2 = await s.put('sys.moved', bytes('v2'), r1.revision);
      if (!r2.ok) throw new Error('update refused');
      await s.delete('sys.moved', r1.revision);
      expect((await s.get('sys.moved'))?.revision).toBe(r2.revision);
      await s.delete('sys.moved', r2.revision);
      expect(await s.get('sys.moved')).toBeUndefined();
      await s.delete('sys.moved', r2.revision); // already gone: nothing to do
      expect((await s.put('sys.moved', bytes('v3'), null)).ok).toBe(true);
    });

    test('keys(prefix) lists the prefix key and those below it by whole tokens, and works on an empty store', async () => {
      const s = await make();
      expect(await s.keys()).toEqual([]);
      expect(await s.keys('support')).toEqual([]);
      for (const key of ['support', 'support.t1', 'support.triage.classifier', 'supportx.t1', 'billing.t1']) await s.put(key, bytes(key));
      expect((await s.keys('support')).sort()).toEqual(['support', 'support.t1', 'support.triage.classifier']);
      expect((await s.keys('support.triage')).sort()).toEqual(['support.triage.classifier']);
      expect(await s.keys('nothing')).toEqual([]);
      expect((await s.keys()).sort()).toEqual(['billing.t1', 'support', 'support.t1', 'support.triage.classifier', 'supportx.t1']);
    });

    test('keyCandidates(prefix): every live key under the prefix, and no key never written', async () => {
      const s = await make();
      expect(s.keyCandidates).toBeTypeOf('function'); // optional in the interface; both stores have it
      for (const key of ['support.t1', 'support.t2', 'billing.b1']) await s.put(key, new Uint8Array([1]));
      await s.delete('support.t2');
      const candidates = await s.keyCandidates!('support');
      expect(candidates).toContain('support.t1');
      // A deleted key may be listed (its marker): its get says it is gone. Nothing outside the prefix, nothing unwritten.
      expect(candidates.every((k) => ['support', 'support.t1', 'support.t2'].includes(k))).toBe(true);
      expect(await s.get('support.t2')).toBeUndefined();
    });

    test('keys(prefix) lists each key once while the keys are being rewritten (a heartbeat during a listing)', async () => {
      const s = await make();
      const ids = Array.from({ length: 50 }, (_, i) => `node.n${i}`);
      for (const key of ids) await s.put(key, bytes('0'));
      let writing = true;
      const writer = (async () => {
        for (let i = 0; writing && i < 5_000; i++) await s.put(ids[i % ids.length]!, bytes(String(i)));
      })();
      try {
        for (let round = 0; round < 20; round++) {
          const listed = await s.keys('node');
          expect(listed.length).toBe(new Set(listed).size);
          expect([...listed].sort()).toEqual([...ids].sort());
        }
      } finally {
        writing = false;
        await writer;
      }
    });

    test('keys that are not dot-separated [A-Za-z0-9_-] tokens are rejected with InvalidAddressError', async () => {
      const s = await make();
      for (const key of ['', 'a..b', '.a', 'a.', 'a b', 'a*', 'a.>', 'a/b']) {
        await expect(s.put(key, bytes('x')), key).rejects.toBeInstanceOf(InvalidAddressError);
        await expect(s.get(key), key).rejects.toBeInstanceOf(InvalidAddressError);
      }
      await expect(s.keys('a.*')).rejects.toBeInstanceOf(InvalidAddressError);
    });

    if (options.valueSize === 'unbounded') {
      test('a 4 MiB value round-trips intact (this store has no size limit)', async () => {
        const s = await make();
        const big = noise(4 * 1024 * 1024);
        expect((await s.put('sys.huge', big)).ok).toBe(true);
        const stored = (await s.get('sys.huge'))?.value;
        // Buffer.equals: vitest's deep equality takes minutes over 4 MiB.
        expect(stored !== undefined && Buffer.from(stored).equals(Buffer.from(big))).toBe(true);
      });
    } else {
      test('a value over the size limit fails with CodecError naming its size, never truncated', async () => {
        const s = await make();
        const big = noise(4 * 1024 * 1024);
        await expect(s.put('sys.huge', big)).rejects.toBeInstanceOf(CodecError);
        await expect(s.put('sys.huge', big)).rejects.toThrow(/4194304 bytes.*of \d+ bytes/);
        expect(await s.get('sys.huge')).toBeUndefined();
      });
    }
  });
}
