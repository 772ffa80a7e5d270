/**
 * The TraceLog contract against the JetStream trace log (one nats-server for this file, an empty trace stream
 * per case), plus what only JetStream has (issue 8): the stream's settings, dedupe past the duplicate window
 * (expected-last-subject-sequence), and a history read from another connection, as a new process would.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { InvalidConfigError } from '../../src/errors.js';
import { createJetStreamTraceLog, type TraceLogEvent } from '../../src/persistence/jetstream/jetstream-trace-log.js';
import { connectNats } from '../../src/transport/nats/connection-options.js';
import { describeTraceLogContract } from '../contract/trace-log.case.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

let server: NatsServer;
let nc: NatsConnection;
beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url, name: 'troupe-trace-contract' });
});
afterAll(async () => {
  await nc?.close();
  await server?.cleanup();
});

async function emptyStream(system: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(`TROUPE_${system}_TRACE`).catch(() => false);
}

describeTraceLogContract('jetstream', async () => {
  await emptyStream('contract');
  return createJetStreamTraceLog(nc, { system: 'contract' });
});

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

describe('JetStream trace log', () => {
  test('creates TROUPE_<system>_TRACE: file storage, one message per subject, bounded by age (7 days) and bytes', async () => {
    await emptyStream('limits');
    const log = await createJetStreamTraceLog(nc, { system: 'limits', maxBytes: 64 * 1024 * 1024 });
    await log.close();
    const info = await (await jetstreamManager(nc)).streams.info('TROUPE_limits_TRACE');
    expect(info.config).toMatchObject({
      subjects: ['troupe.limits.trace.>'], storage: StorageType.File, max_msgs_per_subject: 1,
      max_age: 7 * 24 * 3_600 * 1e9, max_bytes: 64 * 1024 * 1024,
    });
    // Reopening with other limits updates the existing stream.
    await (await createJetStreamTraceLog(nc, { system: 'limits', maxAgeMs: 3_600_000 })).close();
    expect((await (await jetstreamManager(nc)).streams.info('TROUPE_limits_TRACE')).config.max_age).toBe(3_600 * 1e9);
  });

  test('refuses bad limits naming the field', async () => {
    await expect(createJetStreamTraceLog(nc, { system: 'limits', maxAgeMs: 0 })).rejects.toThrow(InvalidConfigError);
    await expect(createJetStreamTraceLog(nc, { system: 'a.b' })).rejects.toThrow(/system/);
  });

  test('an entry re-appended after the duplicate window is still stored once, the first copy in its place', async () => {
    await emptyStream('window');
    const events: TraceLogEvent[] = [];
    const log = await createJetStreamTraceLog(nc, { system: 'window', duplicateWindowMs: 200 }, (e) => events.push(e));
    try {
      log.append('w', 'a', bytes('A'));
      log.append('w', 'b', bytes('B'));
      await log.flush();
      await new Promise((resolve) => setTimeout(resolve, 400)); // past the window: msgId dedupe no longer applies
      log.append('w', 'a', bytes('A later'));
      log.append('w', 'c', bytes('C'));
      await log.flush();
      expect((await log.read('w')).map((r) => `${r.id}=${text(r.data)}`)).toEqual(['a=A', 'b=B', 'c=C']);
      expect(events).toEqual([]); // the refusal of the second copy counts as stored, not as a failure
    } finally {
      await log.close();
    }
  });

  test('a workflow\'s entries of one turn go out as one message; a re-run batch that starts with a stored entry still stores its new ones', async () => {
    await emptyStream('batch');
    const events: TraceLogEvent[] = [];
    const log = await createJetStreamTraceLog(nc, { system: 'batch' }, (e) => events.push(e));
    try {
      for (const id of ['a', 'b', 'c']) log.append('w', id, bytes(id.toUpperCase()));
      await log.flush();
      const info = await (await jetstreamManager(nc)).streams.info('TROUPE_batch_TRACE', { subjects_filter: 'troupe.batch.trace.w.>' });
      expect(Object.keys(info.state.subjects ?? {}), 'one message for the three entries of one turn').toEqual(['troupe.batch.trace.w.a']);
      // A re-run within the duplicate window (same first entry, so the same msgId), then one after a new entry.
      for (const id of ['b', 'c', 'd']) log.append('w', id, bytes(`${id.toUpperCase()} again`));
      await log.flush();
      log.append('w', 'a', bytes('A again'));
      log.append('w', 'e', bytes('E'));
      await log.flush();
      expect((await log.read('w')).map((r) => `${r.id}=${text(r.data)}`)).toEqual(['a=A', 'b=B', 'c=C', 'd=D again', 'e=E']);
      expect(events).toEqual([]);
    } finally {
      await log.close();
    }
  });

  test('at most maxQueued entries wait to be stored; the rest are given up and reported, and room comes back once stored', async () => {
    await emptyStream('bound');
    const events: TraceLogEvent[] = [];
    const log = await createJetStreamTraceLog(nc, { system: 'bound', maxQueued: 3 }, (e) => events.push(e));
    try {
      for (const id of ['a', 'b', 'c', 'd', 'e']) log.append('w', id, bytes(id));
      await log.flush();
      expect(events.map((e) => e.type === 'rt.trace.append-failed' && e.reason)).toEqual(['more than 3 entries queued', 'more than 3 entries queued']);
      for (const id of ['f', 'g', 'h']) log.append('w', id, bytes(id));
      await log.flush();
      expect(events).toHaveLength(2);
      expect((await log.read('w')).map((r) => r.id)).toEqual(['a', 'b', 'c', 'f', 'g', 'h']);
    } finally {
      await log.close();
    }
  });

  test('a log on another connection (a process that never appended) reads the whole history in order', async () => {
    await emptyStream('other');
    const writer = await createJetStreamTraceLog(nc, { system: 'other' });
    for (const id of ['x1', 'x2', 'x3']) writer.append('wf-9', id, bytes(id));
    await writer.close(); // close stores what was queued
    const nc2 = await connectNats({ servers: server.url, name: 'troupe-trace-reader' });
    try {
      const reader = await createJetStreamTraceLog(nc2, { system: 'other' });
      expect((await reader.read('wf-9')).map((r) => r.id)).toEqual(['x1', 'x2', 'x3']);
      await reader.close();
    } finally {
      await nc2.close();
    }
  });

  test('appends during a server outage are retried with the same id and stored once it is back', async () => {
    await emptyStream('outage');
    const events: TraceLogEvent[] = [];
    const nc3 = await connectNats({ servers: server.url, name: 'troupe-trace-outage', reconnectTimeWaitMs: 100 });
    const log = await createJetStreamTraceLog(nc3, { system: 'outage', publishTimeoutMs: 1_000 }, (e) => events.push(e));
    try {
      log.append('w', 'before', bytes('1'));
      await log.flush();
      await server.stop();
      log.append('w', 'during-1', bytes('2'));
      log.append('w', 'during-2', bytes('3'));
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await server.restart();
      await log.flush();
      expect((await log.read('w', { timeoutMs: 10_000 })).map((r) => r.id)).toEqual(['before', 'during-1', 'during-2']);
      expect(events.some((e) => e.type === 'rt.trace.append-retry')).toBe(true);
      expect(events.filter((e) => e.type === 'rt.trace.append-failed')).toEqual([]);
    } finally {
      await log.close();
      await nc3.close();
    }
  }, 30_000);
});
