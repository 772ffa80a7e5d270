/**
 * The embedded default durable mailbox: an in-process log with the JetStream consumer's semantics
 * (msgId dedupe, per-shard in-order first delivery, redelivery on nak or after ackWait). It survives actor
 * crashes and restarts within one process, not the process itself.
 */
import { TimeoutError } from '../../errors.js';
import { addressOfSubject, type AppendResult, type ConsumeOptions, type MailboxDelivery, type MailboxLog } from '../mailbox-log.js';

interface Entry {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly seq: number;
  deliveries: number;
  acked: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export function createMemoryMailboxLog(options: { shards?: number; dedupeWindow?: number } = {}): MailboxLog {
  const shards = options.shards ?? 8;
  const dedupeWindow = options.dedupeWindow ?? 100_000;
  const byMsgId = new Map<string, number>();
  const handlers = new Map<number, { handler: (d: MailboxDelivery) => void; ackWaitMs: number }>();
  const backlog = new Map<number, Entry[]>();
  let seq = 0;
  const unacked = new Set<Entry>();
  let deadLetters = 0;
  let closed = false;

  function deliver(shard: number, entry: Entry): void {
    if (entry.acked || closed) return;
    const consumer = handlers.get(shard);
    if (!consumer) {
      // Nobody consumes this shard now: keep the message for the next consumer.
      backlog.set(shard, [...(backlog.get(shard) ?? []), entry]);
      return;
    }
    entry.deliveries++;
    clearTimeout(entry.timer);
    const redeliverAfter = (ms: number) => {
      clearTimeout(entry.timer);
      entry.timer = setTimeout(() => deliver(shard, entry), ms);
    };
    redeliverAfter(consumer.ackWaitMs);
    const finish = () => {
      entry.acked = true;
      unacked.delete(entry);
      clearTimeout(entry.timer);
      entry.timer = undefined;
    };
    queueMicrotask(() =>
      consumer.handler({
        subject: entry.subject,
        data: entry.data,
        seq: entry.seq,
        deliveryCount: entry.deliveries,
        ack: finish,
        term: finish,
        nak: (delayMs = 0) => !entry.acked && redeliverAfter(delayMs),
        working: () => !entry.acked && redeliverAfter(consumer.ackWaitMs),
      }),
    );
  }

  return {
    kind: 'memory',
    shards,
    async append(subject, data, msgId): Promise<AppendResult> {
      if (closed) throw new TimeoutError('mailbox log is closed', 0);
      const existing = byMsgId.get(msgId);
      if (existing !== undefined) return { seq: existing, duplicate: true };
      const target = addressOfSubject(subject);
      if (!target || target.shard >= shards) throw new RangeError(`not a mailbox subject of this log: ${subject}`);
      const entry: Entry = { subject, data: data.slice(), seq: ++seq, deliveries: 0, acked: false, timer: undefined };
      byMsgId.set(msgId, entry.seq);
      unacked.add(entry);
      if (byMsgId.size > dedupeWindow) byMsgId.delete(byMsgId.keys().next().value as string);
      deliver(target.shard, entry);
      return { seq: entry.seq, duplicate: false };
    },
    async consume(shard, handler, consumeOptions?: ConsumeOptions) {
      if (handlers.has(shard)) throw new RangeError(`shard ${shard} already has a consumer`);
      handlers.set(shard, { handler, ackWaitMs: consumeOptions?.ackWaitMs ?? 30_000 });
      const waiting = backlog.get(shard) ?? [];
      backlog.delete(shard);
      for (const entry of waiting) deliver(shard, entry);
      return async () => {
        handlers.delete(shard);
      };
    },
    async deadLetter() {
      deadLetters++;
    },
    async deadLetterCount() {
      return deadLetters;
    },
    async close() {
      closed = true;
      handlers.clear();
      for (const entry of unacked) clearTimeout(entry.timer);
      unacked.clear();
    },
  };
}
