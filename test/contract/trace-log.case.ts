/**
 * The TraceLog contract (issue 8), run against every implementation: entries per workflow in append order,
 * one copy per entry id (the first), read-your-writes, subject-safe ids, appends that never throw for I/O.
 */
import { describe, expect, test } from 'vitest';
import { InvalidAddressError } from '../../src/errors.js';
import type { TraceLog } from '../../src/persistence/trace-log.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

/** `open` returns a log over an empty store, one per case; the case closes it. */
export function describeTraceLogContract(name: string, open: () => Promise<TraceLog>): void {
  describe(`TraceLog contract: ${name}`, () => {
    test('a workflow reads back its entries in append order, with their ids; other workflows stay apart', async () => {
      const log = await open();
      try {
        log.append('w1', 'a', bytes('A'));
        log.append('w1x', 'a', bytes('other workflow'));
        log.append('w1', 'b', bytes('B'));
        log.append('w1', 'c', bytes('C'));
        const read = await log.read('w1');
        expect(read.map((r) => `${r.id}=${text(r.data)}`)).toEqual(['a=A', 'b=B', 'c=C']);
        expect((await log.read('w1x')).map((r) => text(r.data))).toEqual(['other workflow']);
      } finally {
        await log.close();
      }
    });

    test('an entry appended again under its id (a re-run) is stored once: the first copy keeps its content and position', async () => {
      const log = await open();
      try {
        log.append('w2', 'a', bytes('A'));
        log.append('w2', 'b', bytes('B'));
        await log.flush();
        log.append('w2', 'a', bytes('A again'));
        log.append('w2', 'c', bytes('C'));
        log.append('w2', 'b', bytes('B again'));
        const read = await log.read('w2');
        expect(read.map((r) => `${r.id}=${text(r.data)}`)).toEqual(['a=A', 'b=B', 'c=C']);
      } finally {
        await log.close();
      }
    });

    test('a workflow with no entries reads as empty', async () => {
      const log = await open();
      try {
        expect(await log.read('never-ran')).toEqual([]);
      } finally {
        await log.close();
      }
    });

    test('many entries appended without awaiting come back complete and in order', async () => {
      const log = await open();
      try {
        const ids = Array.from({ length: 700 }, (_, i) => `e${String(i).padStart(4, '0')}`);
        for (const id of ids) log.append('busy', id, bytes(id));
        const read = await log.read('busy', { timeoutMs: 20_000 });
        expect(read.map((r) => r.id)).toEqual(ids);
        expect(read.every((r) => text(r.data) === r.id)).toBe(true);
      } finally {
        await log.close();
      }
    });

    test('ids outside [A-Za-z0-9_-]+ are refused at once with InvalidAddressError', async () => {
      const log = await open();
      try {
        expect(() => log.append('a.b', 'x', bytes('x'))).toThrow(InvalidAddressError);
        expect(() => log.append('w', 'x.>', bytes('x'))).toThrow(InvalidAddressError);
        expect(() => log.append('w', '', bytes('x'))).toThrow(InvalidAddressError);
        await expect(log.read('w*')).rejects.toBeInstanceOf(InvalidAddressError);
      } finally {
        await log.close();
      }
    });

    test('an append after close is dropped, not thrown', async () => {
      const log = await open();
      log.append('w3', 'a', bytes('A'));
      await log.close();
      expect(() => log.append('w3', 'b', bytes('B'))).not.toThrow();
    });
  });
}
