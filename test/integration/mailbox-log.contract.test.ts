/**
 * The MailboxLog contract against the memory log and the JetStream log (one nats-server for this file, a
 * fresh system — so fresh streams and consumers — per case), plus what only the JetStream log has: its
 * streams, consumer settings and headers as a JetStream client sees them.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { InvalidConfigError, NonRetryableError, RetryableError } from '../../src/errors.js';
import { createJetStreamMailboxLog, type MailboxLogEvent } from '../../src/persistence/jetstream/jetstream-mailbox-log.js';
import { mailboxSubject } from '../../src/persistence/mailbox-log.js';
import { createMemoryMailboxLog } from '../../src/persistence/memory/memory-mailbox-log.js';
import { connectNats } from '../../src/transport/nats/connection-options.js';
import { describeMailboxLogContract, waitFor } from '../contract/mailbox-log.case.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

let server: NatsServer;
let nc: NatsConnection;
beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url, name: 'troupe-mailbox-contract' });
});
afterAll(async () => {
  await nc?.close();
  await server?.cleanup();
});

describeMailboxLogContract('memory', async ({ ackWaitMs, onHandlerError }) => createMemoryMailboxLog({ shards: 3, ackWaitMs, onHandlerError }));

describeMailboxLogContract('jetstream', async ({ ackWaitMs, onHandlerError }) => {
  // The contract's subjects name system 'contract': each case starts from empty streams and no consumers.
  const jsm = await jetstreamManager(nc);
  for (const name of ['TROUPE_contract_MBOX', 'TROUPE_contract_DLQ']) await jsm.streams.delete(name).catch(() => false);
  return createJetStreamMailboxLog(nc, {
    system: 'contract',
    shards: 3,
    ackWaitMs,
    onEvent: (e) => e.type === 'rt.mbox.handler-error' && onHandlerError(e.error),
  });
});

describe('jetstream: streams and consumers', () => {
  test('creates both streams with limits retention, file storage and the duplicate window; the shard consumer as configured', async () => {
    const log = await createJetStreamMailboxLog(nc, { system: 'shape', shards: 2, ackWaitMs: 1_500, duplicateWindowMs: 60_000, maxAckPending: 50 });
    try {
      const jsm = await jetstreamManager(nc);
      const mbox = (await jsm.streams.info('TROUPE_shape_MBOX')).config;
      expect(mbox).toMatchObject({ subjects: ['troupe.shape.mbox.>'], retention: 'limits', storage: 'file', duplicate_window: 60_000 * 1e6 });
      expect((await jsm.streams.info('TROUPE_shape_DLQ')).config.subjects).toEqual(['troupe.shape.dlq.>']);
      const stop = await log.consume(1, () => undefined, { batch: 10 });
      const consumer = (await jsm.consumers.info('TROUPE_shape_MBOX', 'mbox-1')).config;
      expect(consumer).toMatchObject({ durable_name: 'mbox-1', filter_subject: 'troupe.shape.mbox.1.>', ack_policy: 'explicit', ack_wait: 1_500 * 1e6, max_ack_pending: 50 });
      await stop();
    } finally {
      await log.close();
    }
  });

  test('a dead letter keeps the original bytes, subject and reason (headers), on troupe.<system>.dlq.>', async () => {
    const log = await createJetStreamMailboxLog(nc, { system: 'dlqshape', shards: 1 });
    try {
      const original = mailboxSubject('dlqshape', 0, 'dlqshape/actor-1');
      await log.deadLetter(original, Uint8Array.from([0, 255, 1]), 'cannot decode:\nbad tag');
      const jsm = await jetstreamManager(nc);
      const stored = await jsm.streams.getMessage('TROUPE_dlqshape_DLQ', { seq: 1 });
      expect(stored?.subject).toBe('troupe.dlqshape.dlq.mbox.0.dlqshape.actor-1');
      expect([...stored!.data]).toEqual([0, 255, 1]);
      expect(stored?.header.get('Troupe-Original-Subject')).toBe(original);
      expect(stored?.header.get('Troupe-Reason')).toBe('cannot decode: bad tag');
    } finally {
      await log.close();
    }
  });

  test('a message over maxMsgBytes is refused with NonRetryableError naming its size', async () => {
    const log = await createJetStreamMailboxLog(nc, { system: 'small', shards: 1, maxMsgBytes: 100 });
    try {
      const error = await log.append(mailboxSubject('small', 0, 'small/a'), new Uint8Array(101), 'big').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NonRetryableError);
      expect((error as Error).message).toMatch(/101 bytes.*100/);
    } finally {
      await log.close();
    }
  });

  test('"JetStream unavailable" (no responders, as in a leader election) is retried with the same msgID until the stream answers', async () => {
    const events: MailboxLogEvent[] = [];
    const log = await createJetStreamMailboxLog(nc, { system: 'gone', shards: 1, appendRetryMs: 20_000, onEvent: (e) => events.push(e) });
    try {
      const jsm = await jetstreamManager(nc);
      const config = (await jsm.streams.info('TROUPE_gone_MBOX')).config;
      await jsm.streams.delete('TROUPE_gone_MBOX'); // nothing answers on the subject now: the client says JetStreamNotEnabled
      const appending = log.append(mailboxSubject('gone', 0, 'gone/a'), new Uint8Array([1]), 'gone-1');
      await waitFor(() => events.length > 0, 'the first retry event');
      await jsm.streams.add(config);
      expect(await appending).toEqual({ seq: 1, duplicate: false });
      expect(events[0]).toMatchObject({ type: 'rt.mbox.append-retry', attempt: 1, error: { name: 'RetryableError' } });
    } finally {
      await log.close();
    }
  });

  test('when JetStream stays unavailable past appendRetryMs, append fails with RetryableError', async () => {
    const log = await createJetStreamMailboxLog(nc, { system: 'gone2', shards: 1, appendRetryMs: 300 });
    try {
      await (await jetstreamManager(nc)).streams.delete('TROUPE_gone2_MBOX');
      const error = await log.append(mailboxSubject('gone2', 0, 'gone2/a'), new Uint8Array([1]), 'gone2-1').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as RetryableError).data['type']).toBe('JetStreamUnavailable');
    } finally {
      await log.close();
    }
  });

  test('bad options are rejected with InvalidConfigError naming the field', async () => {
    await expect(createJetStreamMailboxLog(nc, { system: 'a.b', shards: 1 })).rejects.toThrow(InvalidConfigError);
    await expect(createJetStreamMailboxLog(nc, { system: 'ok', shards: 0 })).rejects.toThrow(/shards/);
    await expect(createJetStreamMailboxLog(nc, { system: 'ok', shards: 1, replicas: 7 })).rejects.toThrow(/replicas/);
    await expect(createJetStreamMailboxLog(nc, { system: 'ok', shards: 1, ackWaitMs: -1 })).rejects.toThrow(/ackWaitMs/);
  });
});
