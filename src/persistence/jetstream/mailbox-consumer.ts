/**
 * One shard's consumption: a durable pull consumer `mbox-<shard>` read with `consume({ max_messages })`, kept
 * alive across server restarts and outages.
 *
 * The client's `consume()` heals some faults itself, but after a reconnect it checks the consumer with a
 * backoff of `expires` (15–45 s jittered at the default 30 s) and raises nothing while it waits; and a
 * stopped iterator (consumer or stream gone, permission error) just ends. So this loop watches the iterator:
 * no message and no status (heartbeat, pull, discard) for `stallMs` means stalled, and it stops the iterator
 * and re-creates it (re-creating the durable consumer if it is gone) after a bounded backoff, never in a busy
 * loop. The handler is isolated: a throw is reported and never reaches the client.
 */
import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { backoffDelay, type BackoffPolicy } from '../../backoff.js';
import type { MailboxDelivery } from '../mailbox-log.js';
import type { MailboxLogListener } from './mailbox-events.js';

/** Pull request lifetime, ms. The client sends idle heartbeats at half of it, so a stall shows within seconds. */
export const PULL_EXPIRES_MS = 5_000;
/** No message and no status for this long: the iterator is stalled and is re-created. */
const STALL_MS = 3 * PULL_EXPIRES_MS;
const RESTART_BACKOFF: BackoffPolicy = { minMs: 100, maxMs: 5_000, factor: 2, jitter: 0.2 };
/** A consume that ran this long before ending was healthy: the next restart starts the backoff over. */
const HEALTHY_RUN_MS = 10_000;

export interface ShardConsumerOptions {
  readonly shard: number;
  readonly batch: number;
  readonly handler: (delivery: MailboxDelivery) => void;
  /** Fetches the durable consumer, re-creating it when it is missing. */
  readonly open: () => Promise<Consumer>;
  readonly report: MailboxLogListener;
}

export class ShardConsumer {
  private stopped = false;
  private current: ConsumerMessages | undefined;
  private wake: (() => void) | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly options: ShardConsumerOptions) {}

  /** Starts consuming from an already opened consumer (so setup errors reach the caller of `consume`). */
  start(first: Consumer): void {
    this.running = this.run(first);
  }

  /** Stops consuming; resolves once the loop has ended and the handler will not be called again. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.current?.stop();
    this.wake?.();
    await this.running;
  }

  private async run(first: Consumer): Promise<void> {
    let consumer: Consumer | undefined = first;
    let attempt = 0;
    while (!this.stopped) {
      const startedAt = Date.now();
      let reason: string;
      try {
        consumer ??= await this.options.open();
        reason = await this.drain(consumer);
      } catch (error) {
        reason = error instanceof Error ? error.message : String(error);
      }
      consumer = undefined;
      if (this.stopped) break;
      attempt = Date.now() - startedAt > HEALTHY_RUN_MS ? 1 : attempt + 1;
      const delayMs = backoffDelay(RESTART_BACKOFF, attempt);
      this.options.report({ type: 'rt.mbox.consumer-restart', shard: this.options.shard, attempt, delayMs, reason });
      await this.sleep(delayMs);
    }
  }

  /** Consumes until the iterator ends; returns why it ended. */
  private async drain(consumer: Consumer): Promise<string> {
    const messages = await consumer.consume({ max_messages: this.options.batch, expires: PULL_EXPIRES_MS });
    this.current = messages;
    if (this.stopped) messages.stop();
    let reason = 'consume ended';
    let lastSeen = Date.now();
    const end = (why: string) => {
      reason = why;
      messages.stop();
    };
    void (async () => {
      for await (const status of messages.status()) {
        // Missed heartbeats and no-responders are what a stall looks like, not signs of life.
        if (status.type !== 'heartbeats_missed' && status.type !== 'no_responders') lastSeen = Date.now();
        // Gone for good: the loop re-creates the consumer rather than waiting on the client's slow re-check.
        if (status.type === 'consumer_not_found' || status.type === 'stream_not_found' || status.type === 'consumer_deleted') end(status.type);
      }
    })().catch(() => undefined);
    const watchdog = setInterval(() => {
      if (Date.now() - lastSeen > STALL_MS) end(`stalled: no message or status for ${STALL_MS} ms`);
    }, STALL_MS / 3);
    watchdog.unref();
    try {
      for await (const msg of messages) {
        if (this.stopped) break;
        lastSeen = Date.now();
        this.deliver(msg);
      }
    } finally {
      clearInterval(watchdog);
      this.current = undefined;
    }
    return reason;
  }

  private deliver(msg: JsMsg): void {
    const seq = msg.seq;
    // A copy: the client hands out a view over its read buffer.
    const delivery: MailboxDelivery = {
      subject: msg.subject,
      data: new Uint8Array(msg.data),
      seq,
      deliveryCount: msg.info.deliveryCount,
      deliverySeq: msg.info.deliverySequence,
      // Plain acks (not ackAck: 10x slower). Each is a core publish: while disconnected it is dropped and
      // the message comes back after ack_wait, which consumers dedupe by seq anyway. On a closed
      // connection the client throws; the outcome is the same, so it is swallowed.
      ack: () => quietly(() => msg.ack()),
      nak: (delayMs) => quietly(() => msg.nak(delayMs)),
      working: () => quietly(() => msg.working()),
      term: () => quietly(() => msg.term()),
    };
    try {
      this.options.handler(delivery);
    } catch (error) {
      this.options.report({ type: 'rt.mbox.handler-error', shard: this.options.shard, seq, error });
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

function quietly(fn: () => void): void {
  try {
    fn();
  } catch {
    // See deliver(): an ack that cannot be sent is an ack the server never saw; redelivery covers it.
  }
}
