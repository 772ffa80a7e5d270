/** The inspection history ring (issue 14): bounded by records and bytes, oldest batches out first, one JSON array out. */
import { expect, test } from 'vitest';
import { InvalidConfigError } from '../../../src/errors.js';
import { InspectionHistory } from '../../../src/inspection/history.js';
import type { SealedBatch } from '../../../src/inspection/bus.js';
import type { WireRecord } from '../../../src/inspection/wire.js';

let seq = 0;
function batch(ids: number[]): SealedBatch {
  const records = ids.map((i) => ({ type: 'troupe.runtime', id: `n:${i}`, node: 'n', event: { type: 'rt.test', ts: i } }) as WireRecord);
  return { node: 'n', seq: ++seq, now: 0, records, recordsJson: () => JSON.stringify(records) };
}

const ids = (h: InspectionHistory) => (JSON.parse(h.recordsJson()) as Array<{ id: string }>).map((r) => r.id);

test('keeps the newest batches within maxRecords, evicting whole batches, oldest first', () => {
  const h = new InspectionHistory({ maxRecords: 5 });
  h.batch(batch([1, 2]));
  h.batch(batch([3, 4]));
  expect(ids(h)).toEqual(['n:1', 'n:2', 'n:3', 'n:4']);
  h.batch(batch([5, 6]));
  expect(ids(h)).toEqual(['n:3', 'n:4', 'n:5', 'n:6']);
  expect(h.stats()).toMatchObject({ records: 4, batches: 2, evicted: 2 });
  for (let i = 0; i < 200; i++) h.batch(batch([100 + i]));
  expect(ids(h)).toEqual(['n:295', 'n:296', 'n:297', 'n:298', 'n:299']);
  expect(h.stats()).toMatchObject({ records: 5, evicted: 201 });
});

test('keeps within maxBytes; the message is valid JSON with the node and the evicted count', () => {
  const one = JSON.stringify(batch([1]).records).length;
  const h = new InspectionHistory({ maxRecords: 1_000, maxBytes: one * 2 + 1 });
  for (let i = 0; i < 5; i++) h.batch(batch([i]));
  expect(ids(h)).toEqual(['n:3', 'n:4']);
  expect(h.stats().bytes).toBeLessThanOrEqual(one * 2 + 1);
  expect(JSON.parse(h.messageJson('node-a'))).toMatchObject({ t: 'history', v: 1, node: 'node-a', evicted: 3, records: [{ id: 'n:3' }, { id: 'n:4' }] });
});

test('an empty ring sends an empty array; zero keeps nothing; bad sizes are a clear error', () => {
  expect(new InspectionHistory().recordsJson()).toBe('[]');
  const off = new InspectionHistory({ maxRecords: 0 });
  off.batch(batch([1]));
  expect(off.recordsJson()).toBe('[]');
  expect(() => new InspectionHistory({ maxRecords: -1 })).toThrow(InvalidConfigError);
  expect(() => new InspectionHistory({ maxBytes: 1.5 })).toThrow(/invalid history.maxBytes: must be an integer >= 0/);
});
