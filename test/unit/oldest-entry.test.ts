import { describe, expect, it } from 'vitest';
import { deleteOldest } from '../../src/oldest-entry.js';

describe('deleteOldest', () => {
  it('evicts in insertion order, as map.keys().next() would, across deletes and re-inserts', () => {
    const map = new Map<string, number>();
    const twin = new Map<string, number>(); // evicted the old way, the reference
    const evicted: string[] = [];
    const expected: string[] = [];
    for (let i = 0; i < 5_000; i++) {
      const key = `k${i % 700}`; // keys come back after their eviction: a re-insert goes to the end
      for (const m of [map, twin]) m.delete(key);
      if (i % 13 === 0) for (const m of [map, twin]) m.delete(`k${(i * 7) % 700}`); // a delete in the middle
      for (const m of [map, twin]) m.set(key, i);
      if (map.size > 100) {
        evicted.push(deleteOldest(map)![0]);
        const oldest = twin.keys().next().value as string;
        twin.delete(oldest);
        expected.push(oldest);
      }
    }
    expect(evicted).toEqual(expected);
    expect([...map]).toEqual([...twin]);
  });

  it('returns the deleted entry, undefined for an empty map, and starts over once the map ran empty', () => {
    const map = new Map([['a', 1], ['b', 2]]);
    expect(deleteOldest(map)).toEqual(['a', 1]);
    expect(deleteOldest(map)).toEqual(['b', 2]);
    expect(deleteOldest(map)).toBeUndefined();
    map.set('c', 3);
    map.set('d', 4);
    expect(deleteOldest(map)).toEqual(['c', 3]);
    expect([...map.keys()]).toEqual(['d']);
  });
});
