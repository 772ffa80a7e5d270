/**
 * The index of passivated durable actors (issue 9), per shard, with each one's earliest due timer: bucket
 * `troupe_<system>_timers` on NATS, an in-memory store on the embedded default. A node that takes a shard over reads
 * it first: the actors it lists are unloaded, and their records are not read until a message or a due timer wakes
 * them, so a node holds as many waiting workflows as its store holds, not as its heap holds.
 *
 * Keys are `s<shard>.<due>.<address key>` (`due` is ms since the epoch, or `never`): a listing of a shard gives every
 * entry and its due time with no read of any value. Only a shard's owner writes its entries.
 *
 * Invariant, with the record written first on the way out and the entry removed first on the way in: an entry
 * exists only for an actor whose stored record is passive. A crash between the two leaves a passive record without
 * an entry, which the next `recover()` of its shard reads, and indexes again.
 */
import type { SnapshotStore } from '../persistence/snapshot-store.js';
import { addressOfTokens, addressTokens } from '../system/address.js';

export interface PassiveEntry {
  readonly address: string;
  /** Its earliest timer's due time; undefined: it has none (only a message wakes it). */
  readonly dueAt: number | undefined;
}

const EMPTY = new Uint8Array(0);

export class PassiveIndex {
  constructor(private readonly store: SnapshotStore) {}

  /** Records a passivated actor (after its passive record is stored). */
  async add(shard: number, address: string, dueAt: number | undefined): Promise<void> {
    await this.store.put(entryKey(shard, address, dueAt), EMPTY);
  }

  /** Removes an actor that is activated again (before its record is written as active). */
  async remove(shard: number, address: string, dueAt: number | undefined): Promise<void> {
    await this.store.delete(entryKey(shard, address, dueAt));
  }

  /** The passivated actors of `shard`. */
  async list(shard: number): Promise<PassiveEntry[]> {
    const entries: PassiveEntry[] = [];
    for (const key of await this.store.keys(`s${shard}`)) {
      const entry = parseEntryKey(key);
      if (entry !== undefined) entries.push(entry);
    }
    return entries;
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

/** The earliest due time of a record's timers; undefined when it has none. */
export function earliestDue(timers: readonly { readonly dueAt: number }[]): number | undefined {
  let earliest: number | undefined;
  for (const timer of timers) if (earliest === undefined || timer.dueAt < earliest) earliest = timer.dueAt;
  return earliest;
}

function entryKey(shard: number, address: string, dueAt: number | undefined): string {
  return `s${shard}.${dueAt === undefined ? 'never' : String(Math.max(0, Math.floor(dueAt)))}.${addressTokens(address)}`;
}

const ENTRY_KEY = /^s\d+\.(never|\d+)\.(.+)$/;

function parseEntryKey(key: string): PassiveEntry | undefined {
  const match = ENTRY_KEY.exec(key);
  if (match === null) return undefined;
  const dueAt = match[1] === 'never' ? undefined : Number(match[1]);
  if (dueAt !== undefined && !Number.isSafeInteger(dueAt)) return undefined;
  return { address: addressOfTokens(match[2]!), dueAt };
}
