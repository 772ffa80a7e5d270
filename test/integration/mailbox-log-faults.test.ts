/**
 * The JetStream mailbox log under faults: a clean nats-server restart in the middle of appending and
 * consuming loses nothing and stores nothing twice; after a kill -9 and start, unacked messages come back to
 * the same (self-healing) consumer; an outage longer than a pull request and a deleted durable consumer are
 * both survived by the running shard consumer; 10,000 undecodable messages end up in the dead-letter stream
 * exactly once each. Appends are pipelined, waits are bounded and wait for a condition, never for a fixed time.
 */
import { describe, expect, test } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { decodeEnvelope } from '../../src/codec/index.js';
import { isRetryable } from '../../src/errors.js';
import { createJetStreamMailboxLog, type MailboxLogEvent } from '../../src/persistence/jetstream/jetstream-mailbox-log.js';
import { mailboxSubject, type AppendResult, type MailboxDelivery, type MailboxLog } from '../../src/persistence/mailbox-log.js';
import { connectNats } from '../../src/transport/nats/connection-options.js';
import { waitFor } from '../contract/mailbox-log.case.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn(0..count-1)` with at most `window` calls in flight (pipelined, not one await per call). */
async function pipeline<T>(count: number, window: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, worker));
  return results;
}

/** What a publisher does: retry a retryable failure with the same msgId until `deadline`. */
async function appendRetrying(log: MailboxLog, subject: string, data: Uint8Array, msgId: string, deadline: number, failures?: Map<string, number>): Promise<AppendResult> {
  for (;;) {
    try {
      return await log.append(subject, data, msgId);
    } catch (error) {
      if (!isRetryable(error) || Date.now() > deadline) throw error;
      failures?.set((error as Error).name, (failures.get((error as Error).name) ?? 0) + 1);
      await sleep(100);
    }
  }
}

async function setup(server: NatsServer, system: string, options: { shards: number; ackWaitMs: number }) {
  const nc: NatsConnection = await connectNats({ servers: server.url, name: `faults-${system}`, reconnectTimeWaitMs: 100 });
  const events: MailboxLogEvent[] = [];
  const log = await createJetStreamMailboxLog(nc, { system, ...options, publishTimeoutMs: 2_000, onEvent: (e) => events.push(e) });
  const close = async () => {
    await log.close();
    await nc.close();
  };
  return { nc, log, events, close };
}

describe('jetstream mailbox log under faults', () => {
  test('a clean restart while appending and consuming: every appended message arrives, nothing is stored twice', async () => {
    await using server = await startNatsServer();
    const { nc, log, events, close } = await setup(server, 'restart', { shards: 2, ackWaitMs: 2_000 });
    try {
      const delivered = new Map<number, string>();
      for (const shard of [0, 1]) {
        await log.consume(shard, (d) => {
          delivered.set(d.seq, text(d.data));
          d.ack();
        });
      }
      const total = 600;
      const deadline = Date.now() + 40_000;
      let restarting: Promise<void> | undefined;
      let restarted = false;
      let appended = 0;
      const failures = new Map<string, number>();
      const results = await pipeline(total, 16, async (i) => {
        if (i === 200) restarting = server.restart().then(() => void (restarted = true));
        // Spread the middle third over the restart, so appends meet the stopping, stopped and recovering server.
        if (i >= 200 && i < 400 && !restarted) await sleep(20);
        const result = await appendRetrying(log, mailboxSubject('restart', i % 2, `restart/actor-${i % 7}`), bytes(`m${i}`), `restart-${i}`, deadline, failures);
        appended++;
        return result;
      });
      await restarting;
      expect(appended).toBe(total);
      const bySeq = new Map(results.map((r, i) => [r.seq, `m${i}`]));
      expect(bySeq.size).toBe(total); // one sequence per message: a retried append never stored a second copy
      await waitFor(() => [...bySeq.keys()].every((seq) => delivered.has(seq)), 'every appended message to be delivered', 30_000);
      expect(new Map([...delivered].filter(([seq]) => bySeq.has(seq)))).toEqual(bySeq);
      expect(delivered.size).toBe(total); // nothing delivered that was not appended
      const jsm = await jetstreamManager(nc);
      expect((await jsm.streams.info('TROUPE_restart_MBOX')).state.messages).toBe(total);
      report('restart', events, { appendFailures: Object.fromEntries(failures), afterRestart: results.filter((r) => r.duplicate).length });
    } finally {
      await close();
    }
  });

  test('kill -9 and start: unacked messages are redelivered to the same consumer, which keeps consuming', async () => {
    await using server = await startNatsServer();
    const { nc, log, events, close } = await setup(server, 'kill', { shards: 1, ackWaitMs: 1_000 });
    try {
      let phase: 'before' | 'after' = 'before';
      const after: MailboxDelivery[] = [];
      const firstSeen = new Set<number>();
      await log.consume(0, (d) => {
        if (phase === 'after') {
          after.push(d);
          d.ack();
          return;
        }
        firstSeen.add(d.seq);
        if (Number(text(d.data)) % 2 === 0) d.ack(); // odd messages stay unacked
      });
      const seqs = (await pipeline(100, 32, (i) => log.append(mailboxSubject('kill', 0, 'kill/a'), bytes(String(i)), `kill-${i}`))).map((r) => r.seq);
      await waitFor(() => seqs.every((s) => firstSeen.has(s)), 'the first delivery of all 100');
      // The even acks are plain publishes: wait until the server has counted them before killing it.
      const jsm = await jetstreamManager(nc);
      let ackPending = -1;
      const poll = setInterval(() => void jsm.consumers.info('TROUPE_kill_MBOX', 'mbox-0').then((ci) => (ackPending = ci.num_ack_pending), () => undefined), 50);
      try {
        await waitFor(() => ackPending === 50, 'the server to hold exactly the 50 odd messages unacked');
      } finally {
        clearInterval(poll);
      }

      await server.kill9();
      phase = 'after';
      await server.start();
      const odd = seqs.filter((_, i) => i % 2 === 1);
      await waitFor(() => odd.every((s) => after.some((d) => d.seq === s)), 'every unacked message to come back after the restart', 30_000);
      const late = await appendRetrying(log, mailboxSubject('kill', 0, 'kill/a'), bytes('late'), 'kill-late', Date.now() + 20_000);
      await waitFor(() => after.some((d) => d.seq === late.seq), 'a message appended after the restart', 20_000);
      const evenBack = after.filter((d) => seqs.indexOf(d.seq) % 2 === 0).length;
      report('kill9', events, { ackedRedelivered: evenBack, firstRedeliveryCounts: Object.fromEntries(odd.map((s) => after.find((d) => d.seq === s)!.deliveryCount).reduce((m, c) => m.set(c, (m.get(c) ?? 0) + 1), new Map<number, number>())) });
    } finally {
      await close();
    }
  });

  test('an outage longer than a pull request (server down ~8 s): the consumer resumes without help', async () => {
    await using server = await startNatsServer();
    const { log, events, close } = await setup(server, 'outage', { shards: 1, ackWaitMs: 2_000 });
    try {
      const delivered = new Map<number, number>();
      await log.consume(0, (d) => {
        delivered.set(d.seq, d.deliveryCount);
        d.ack();
      });
      const subject = mailboxSubject('outage', 0, 'outage/a');
      const before = await log.append(subject, bytes('before'), 'outage-before');
      await waitFor(() => delivered.has(before.seq), 'the message before the outage');
      await server.stop();
      await sleep(8_000); // the fault itself: longer than a pull request's expiry and two idle heartbeats
      await server.start();
      const t0 = Date.now();
      const afterOutage = await appendRetrying(log, subject, bytes('after'), 'outage-after', Date.now() + 20_000);
      await waitFor(() => delivered.has(afterOutage.seq), 'the message appended after the outage', 40_000);
      report('outage', events, { resumeMs: Date.now() - t0 });
    } finally {
      await close();
    }
  }, 60_000);

  test('a durable consumer deleted under a running shard is re-created, and consumption resumes', async () => {
    await using server = await startNatsServer();
    const { nc, log, events, close } = await setup(server, 'lost', { shards: 1, ackWaitMs: 2_000 });
    try {
      const delivered: MailboxDelivery[] = [];
      await log.consume(0, (d) => {
        delivered.push(d);
        d.ack();
      });
      const subject = mailboxSubject('lost', 0, 'lost/a');
      const before = await log.append(subject, bytes('before'), 'lost-before');
      await waitFor(() => delivered.some((d) => d.seq === before.seq), 'the message before the deletion');
      const jsm = await jetstreamManager(nc);
      await jsm.consumers.delete('TROUPE_lost_MBOX', 'mbox-0');
      const t0 = Date.now();
      const after = await log.append(subject, bytes('after'), 'lost-after');
      await waitFor(() => delivered.some((d) => d.seq === after.seq), 'the message appended after the deletion', 40_000);
      expect(events.some((e) => e.type === 'rt.mbox.consumer-restart')).toBe(true);
      // The new consumer starts from the stream's first message: what the old one acked comes again.
      expect(delivered.filter((d) => d.seq === before.seq).length).toBe(2);
      report('lost consumer', events, { resumeMs: Date.now() - t0 });
    } finally {
      await close();
    }
  }, 60_000);

  test('10,000 undecodable messages are dead-lettered by their consumer: deadLetterCount is exactly 10,000', async () => {
    await using server = await startNatsServer();
    const { nc, log, events, close } = await setup(server, 'garbage', { shards: 4, ackWaitMs: 10_000 });
    try {
      let deadLetterFailures = 0;
      for (const shard of [0, 1, 2, 3]) {
        await log.consume(
          shard,
          (d) => {
            try {
              decodeEnvelope(d.data);
              d.ack();
            } catch (error) {
              // Term only once the dead letter is stored; a failed dead-letter leaves it for redelivery.
              log.deadLetter(d.subject, d.data, `undecodable: ${(error as Error).message}`).then(
                () => d.term(),
                () => void deadLetterFailures++,
              );
            }
          },
          { batch: 200 },
        );
      }
      const total = 10_000;
      // 0xc1 is never used in msgpack; the index makes each payload (and so each dead letter) distinct.
      await pipeline(total, 256, (i) => {
        const payload = new Uint8Array(24);
        payload[0] = 0xc1;
        new DataView(payload.buffer).setUint32(1, i);
        return log.append(mailboxSubject('garbage', i % 4, `garbage/actor-${i % 50}`), payload, `garbage-${i}`);
      });
      const jsm = await jetstreamManager(nc);
      let count = 0;
      let drained = false;
      const deadline = Date.now() + 45_000;
      while (!(count === total && drained) && Date.now() < deadline) {
        await sleep(250);
        count = await log.deadLetterCount();
        const infos = await Promise.all([0, 1, 2, 3].map((s) => jsm.consumers.info('TROUPE_garbage_MBOX', `mbox-${s}`)));
        drained = infos.every((ci) => ci.num_pending === 0 && ci.num_ack_pending === 0);
      }
      expect({ count, drained }).toEqual({ count: total, drained: true });
      expect(await log.deadLetterCount()).toBe(total);
      report('dlq', events, { deadLetterFailures });
    } finally {
      await close();
    }
  }, 60_000);
});

/** Measurements for people (MBOX_FAULTS_REPORT=1), never assertions. */
function report(name: string, events: MailboxLogEvent[], extra: Record<string, unknown> = {}): void {
  if (!process.env['MBOX_FAULTS_REPORT']) return;
  const byType: Record<string, number> = {};
  for (const e of events) byType[e.type] = (byType[e.type] ?? 0) + 1;
  const restarts = events.filter((e) => e.type === 'rt.mbox.consumer-restart').map((e) => (e.type === 'rt.mbox.consumer-restart' ? e.reason : ''));
  console.info(`[mbox-faults] ${name}`, JSON.stringify({ byType, restarts: restarts.slice(0, 5), ...extra }));
}
