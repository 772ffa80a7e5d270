/**
 * The SnapshotStore contract against the memory store and a NATS KV bucket (one nats-server for this
 * file, a fresh bucket per case), plus what only the KV store has: bucket limits and their errors.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { CodecError, InvalidConfigError } from '../../src/errors.js';
import { createKvSnapshotStore } from '../../src/persistence/jetstream/kv-snapshot-store.js';
import { createMemorySnapshotStore } from '../../src/persistence/memory/memory-snapshot-store.js';
import { connectNats } from '../../src/transport/nats/connection-options.js';
import { describeSnapshotStoreContract } from '../contract/snapshot-store.case.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

let server: NatsServer;
let nc: NatsConnection;
let buckets = 0;
beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url, name: 'troupe-store-contract' });
});
afterAll(async () => {
  await nc?.close();
  await server?.cleanup();
});

describeSnapshotStoreContract('memory', async () => createMemorySnapshotStore(), {
  valueSize: 'unbounded',
});

describeSnapshotStoreContract('jetstream kv', () => createKvSnapshotStore(nc, { bucket: `contract_${++buckets}` }));

describe('jetstream kv: bucket limits', () => {
  test('a value over maxValueBytes is refused with CodecError naming the size and the limit', async () => {
    const store = await createKvSnapshotStore(nc, { bucket: 'limits_small', maxValueBytes: 1_000 });
    await expect(store.put('sys.a', new Uint8Array(1_001))).rejects.toThrow(/1001 bytes.*max value size of 1000 bytes/);
    expect(await store.get('sys.a')).toBeUndefined();
  });

  test('a value under the limit that the KV headers push over it still fails typed, not silently', async () => {
    const store = await createKvSnapshotStore(nc, { bucket: 'limits_headers', maxValueBytes: 1_000 });
    // create() sends an expected-sequence header, so 990 value bytes exceed the 1,000-byte message limit.
    const error = await store.put('sys.a', new Uint8Array(990), null).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CodecError);
    expect((error as Error).message).toMatch(/990 bytes \(plus KV headers\).*1000 bytes/);
  });

  test('an existing bucket keeps its settings and its data when opened again', async () => {
    const first = await createKvSnapshotStore(nc, { bucket: 'limits_reopen', maxValueBytes: 500 });
    await first.put('sys.kept', new Uint8Array([1, 2, 3]));
    const again = await createKvSnapshotStore(nc, { bucket: 'limits_reopen' });
    expect([...(await again.get('sys.kept'))!.value]).toEqual([1, 2, 3]);
    await expect(again.put('sys.big', new Uint8Array(600))).rejects.toThrow(/max value size of 500 bytes/);
  });

  test('bad options are rejected with InvalidConfigError naming the field', async () => {
    await expect(createKvSnapshotStore(nc, { bucket: 'bad.name' })).rejects.toThrow(InvalidConfigError);
    await expect(createKvSnapshotStore(nc, { bucket: 'ok', replicas: 0 })).rejects.toThrow(/replicas/);
    await expect(createKvSnapshotStore(nc, { bucket: 'ok', maxValueBytes: -1 })).rejects.toThrow(/maxValueBytes/);
  });
});
