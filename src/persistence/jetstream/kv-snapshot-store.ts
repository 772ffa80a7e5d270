/**
 * SnapshotStore over a NATS KV bucket (`@nats-io/kv` v3). Revisions are the bucket stream's sequence
 * numbers; `create` / `update(rev)` give the CAS that fences a zombie node (STYLE §5), and a refused write
 * is a result value. The bucket is opened with `Kvm.create` + `allow_direct`, so gets use DIRECT.GET rather
 * than the leader-only STREAM.MSG.GET (DESIGN, "KV reads"). The store does not own the connection.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type Bucket, type KV } from '@nats-io/kv';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { CodecError, InvalidAddressError, InvalidConfigError, TimeoutError } from '../../errors.js';
import type { PutResult, SnapshotStore, StoredValue } from '../snapshot-store.js';
import { isWrongLastSequence, mapSizeError } from './kv-errors.js';

export interface KvSnapshotStoreOptions {
  /** Bucket name, `[A-Za-z0-9_-]+`, e.g. `troupe_support_snapshots`; created when missing. */
  readonly bucket: string;
  /** Replicas of a new bucket: 1 (default) survives process kills, 3 survives the loss of a machine. */
  readonly replicas?: number;
  /** Largest value a new bucket accepts, bytes. Default: bounded only by the server's max_payload. */
  readonly maxValueBytes?: number;
  /** Upper bound for listing keys, ms; a listing that does not finish fails with TimeoutError. Default 10,000. */
  readonly listTimeoutMs?: number;
  /**
   * The bucket's TTL (stream max_age), ms: JetStream deletes a value this long after it was written. Applied to a
   * new bucket, and to an existing one whose max_age differs (updatable). Default: values never expire.
   */
  readonly maxAgeMs?: number;
}

const KEY = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * Opens (creating if missing) the bucket and returns the store.
 * @example
 * const store = await createKvSnapshotStore(transport.connection, { bucket: 'troupe_support_snapshots' });
 */
export async function createKvSnapshotStore(nc: NatsConnection, options: KvSnapshotStoreOptions): Promise<SnapshotStore> {
  const { bucket, replicas = 1, maxValueBytes, listTimeoutMs = 10_000, maxAgeMs } = options;
  if (!/^[A-Za-z0-9_-]+$/.test(bucket)) throw new InvalidConfigError('bucket', `${JSON.stringify(bucket)} must match [A-Za-z0-9_-]+`);
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) throw new InvalidConfigError('replicas', 'must be an integer from 1 to 5');
  if (maxValueBytes !== undefined && !(Number.isInteger(maxValueBytes) && maxValueBytes > 0)) {
    throw new InvalidConfigError('maxValueBytes', 'must be an integer > 0');
  }
  if (maxAgeMs !== undefined && !(Number.isInteger(maxAgeMs) && maxAgeMs > 0)) throw new InvalidConfigError('maxAgeMs', 'must be an integer > 0');
  // history 1: a snapshot store needs the latest value per key only.
  const kv = await new Kvm(nc).create(bucket, { history: 1, replicas, maxValueSize: maxValueBytes ?? -1, allow_direct: true, ...(maxAgeMs ? { ttl: maxAgeMs } : {}) });
  let config = (await kv.status()).streamInfo.config;
  // An existing bucket keeps its settings, except the TTL asked for here: the retention is the caller's setting.
  if (maxAgeMs !== undefined && config.max_age !== nanos(maxAgeMs)) {
    const jsm = await jetstreamManager(nc);
    config = (await jsm.streams.update(config.name, { ...config, max_age: nanos(maxAgeMs) })).config;
  }
  // An existing bucket keeps its own settings: read the limits and the read path from it.
  if (!config.allow_direct) {
    throw new InvalidConfigError('bucket', `bucket ${bucket} exists without allow_direct; reads would go through the stream leader only`);
  }
  const limits = { maxPayload: nc.info?.max_payload ?? Infinity, maxValue: config.max_msg_size > 0 ? config.max_msg_size : Infinity };
  return new KvSnapshotStore(kv, limits, listTimeoutMs, nc, bucket);
}

class KvSnapshotStore implements SnapshotStore {
  readonly kind = 'jetstream';

  constructor(
    private readonly kv: KV,
    private readonly limits: { maxPayload: number; maxValue: number },
    private readonly listTimeoutMs: number,
    private readonly nc: NatsConnection,
    private readonly bucket: string,
  ) {}

  async get(key: string): Promise<StoredValue | undefined> {
    checkKey(key);
    const entry = await this.kv.get(key);
    // A deleted key reads back as its DEL/PURGE marker: absent, like the memory store.
    if (entry === null || entry.operation !== 'PUT') return undefined;
    // A plain Uint8Array copy: the client hands out a Buffer view over its read buffer.
    return { value: new Uint8Array(entry.value), revision: entry.revision };
  }

  async put(key: string, value: Uint8Array, expectedRevision?: number | null): Promise<PutResult> {
    checkKey(key);
    this.checkSize(key, value.byteLength);
    // No stored revision is <= 0, so such an expectation can only mismatch (the client would throw).
    if (typeof expectedRevision === 'number' && expectedRevision <= 0) return mismatch(expectedRevision);
    try {
      const revision =
        expectedRevision === undefined
          ? await this.kv.put(key, value)
          : expectedRevision === null
            ? await this.kv.create(key, value)
            : await this.kv.update(key, value, expectedRevision);
      return { ok: true, revision };
    } catch (error) {
      if (isWrongLastSequence(error)) return mismatch(expectedRevision ?? null);
      throw mapSizeError(error, key, value.byteLength, this.limits);
    }
  }

  async delete(key: string, expectedRevision?: number): Promise<void> {
    checkKey(key);
    if (expectedRevision === undefined) return this.kv.delete(key);
    try {
      await this.kv.delete(key, { previousSeq: expectedRevision });
    } catch (error) {
      if (!isWrongLastSequence(error)) throw error; // changed since: someone else's record now, left alone
    }
  }

  async keys(prefix?: string): Promise<string[]> {
    if (prefix === undefined) return this.list('>');
    checkKey(prefix);
    // One filter subject per listing (2.9 refuses several): the descendants, then the prefix key itself.
    const [below, self] = await Promise.all([this.list(`${prefix}.>`), this.get(prefix)]);
    return self === undefined ? below : [prefix, ...below];
  }

  /** The stream's subjects under `prefix`, deleted keys included, none read back: one request per 100k or so keys. */
  async keyCandidates(prefix: string): Promise<string[]> {
    checkKey(prefix);
    return [prefix, ...(await this.withDeadline(`${prefix}.>`, this.subjects(`${prefix}.>`)))];
  }

  /** `Bucket.purgeDeletes` (not on the KV interface): a bucket has no consumers, so its filtered purges are safe. */
  async purgeDeletes(olderThanMs: number): Promise<number> {
    return (await (this.kv as Bucket).purgeDeletes(olderThanMs)).purged;
  }

  /** Nothing to release: the bucket handle holds no subscriptions, and the connection is the caller's. */
  async close(): Promise<void> {}

  private checkSize(key: string, size: number): void {
    const { maxPayload, maxValue } = this.limits;
    if (size > maxValue) throw new CodecError(`snapshot ${key} is ${size} bytes, over the bucket's max value size of ${maxValue} bytes`);
    if (size > maxPayload) throw new CodecError(`snapshot ${key} is ${size} bytes, over the server's max_payload of ${maxPayload} bytes`);
  }

  /**
   * Lists keys under a filter. The client ends an empty listing up front (no end marker would ever come);
   * the deadline bounds the rest (e.g. the connection dropping mid-listing).
   */
  /**
   * The keys under `filter` now. Not `kv.keys()`: its consumer reads until nothing is pending, which never happens
   * while the bucket is being written (a busy snapshot bucket during a shard takeover), and it lists a key rewritten
   * meanwhile twice. The stream's subject list (paged by the client) is one answer at one point in time; a deleted
   * key keeps its delete marker's subject there, so each is read back and the deleted ones are left out.
   */
  private async list(filter: string): Promise<string[]> {
    const listing = (async () => {
      const candidates = await this.subjects(filter);
      const live: string[] = [];
      for (let i = 0; i < candidates.length; i += LIST_READS) {
        const batch = candidates.slice(i, i + LIST_READS);
        const entries = await Promise.all(batch.map((key) => this.kv.get(key)));
        entries.forEach((entry, j) => {
          if (entry !== null && entry.operation === 'PUT') live.push(batch[j]!);
        });
      }
      return live;
    })();
    return this.withDeadline(filter, listing);
  }

  /** The keys whose subjects the stream holds under `filter`: live ones and deleted ones (their markers). */
  private async subjects(filter: string): Promise<string[]> {
    const prefix = `$KV.${this.bucket}.`;
    const jsm = (this.jsm ??= await jetstreamManager(this.nc));
    const info = await jsm.streams.info(`KV_${this.bucket}`, { subjects_filter: `${prefix}${filter}` });
    return Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(prefix.length));
  }

  private async withDeadline<T>(filter: string, listing: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`listing keys ${filter} did not finish within ${this.listTimeoutMs} ms`, this.listTimeoutMs)), this.listTimeoutMs);
    });
    try {
      return await Promise.race([listing, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private jsm: JetStreamManager | undefined;
}

/** Reads in flight while a listing drops deleted keys. */
const LIST_READS = 64;

function mismatch(expected: number | null): PutResult {
  return { ok: false, reason: 'revision-mismatch', expected };
}

function checkKey(key: string): void {
  if (!KEY.test(key)) throw new InvalidAddressError(key, 'snapshot keys are dot-separated tokens of [A-Za-z0-9_-]');
}
