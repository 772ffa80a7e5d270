/**
 * FIFO eviction for the bounded maps (trace stores, open spans, inspection caches): `map.keys().next()` walks
 * every slot a `delete` left behind at the front of V8's ordered table until the table is rehashed — about 5 µs
 * per eviction for a 10,000-entry map kept full (measured, Node 20), on the hot path of every new workflow. One
 * iterator per map, kept between evictions, passes each hole once instead.
 */
const cursors = new WeakMap<Map<unknown, unknown>, Iterator<[unknown, unknown]>>();

/**
 * Deletes the map's oldest entry (in insertion order: what `map.entries().next()` finds) and returns it;
 * undefined for an empty map. Entries deleted or re-inserted meanwhile count as Map iteration says.
 */
export function deleteOldest<K, V>(map: Map<K, V>): [K, V] | undefined {
  const key = map as Map<unknown, unknown>;
  let cursor = cursors.get(key) as Iterator<[K, V]> | undefined;
  let next = cursor?.next();
  // An iterator that ran out stays done even after new entries: start a new one.
  if (next === undefined || next.done === true) {
    cursor = map.entries();
    cursors.set(key, cursor as Iterator<[unknown, unknown]>);
    next = cursor.next();
  }
  if (next.done === true) return undefined;
  map.delete(next.value[0]);
  return next.value;
}
