/**
 * The durable side of one node: sends to durable actors go through the mailbox log; one consumer per shard
 * hands each delivery to its actor, activating it from its stored record on demand (virtual actors, as in
 * Orleans / Akka Cluster Sharding); garbage is written to the dead-letter stream and acked, never retried.
 *
 * Per-actor order: first deliveries of a shard arrive in log order and are queued in order; a delivery at or
 * below the actor's `lastSeq` was already handled (its ack was lost) and is acked and dropped.
 */
import type { EventObject } from 'xstate';
import { decodeEventEnvelope, encodeEnvelope, eventEnvelope, type EventEnvelope } from '../codec/index.js';
import { backoffDelay } from '../backoff.js';
import { DeadLetterError, isRetryable, NonRetryableError, toPlainError } from '../errors.js';
import type { Logger } from '../log/index.js';
import { addressOfSubject, mailboxSubject, shardOf, type AppendResult, type MailboxDelivery, type MailboxLog } from '../persistence/mailbox-log.js';
import { snapshotKey, type SnapshotStore } from '../persistence/snapshot-store.js';
import type { ActorSystemCore } from '../system/actor-system.js';
import { parseAddress } from '../system/address.js';
import type { ReplyTarget } from '../system/message.js';
import { DurableCell } from './durable-cell.js';
import { decodeRecord, type DurableRecord } from './durable-record.js';

const APPEND_RETRY_MS = 60_000;
const APPEND_BACKOFF = { minMs: 100, maxMs: 2_000, factor: 2, jitter: 0.2 };

export interface DurableNodeOptions {
  readonly core: ActorSystemCore;
  readonly store: SnapshotStore;
  readonly log: MailboxLog;
  readonly logger: Logger;
  /** Unique per process: prefixes message ids so publishes from two processes never collide. */
  readonly nodeId: string;
  /** Creates and starts the cell for a stored record (the runtime attaches it to its supervisor). */
  readonly activate: (record: DurableRecord) => DurableCell;
  readonly ackWaitMs?: number;
}

export class DurableNode {
  /** Addresses this node knows to be durable: sends to them go through the log even when not active. */
  private readonly known = new Set<string>();
  private readonly asks = new Map<string, ReplyTarget>();
  private readonly activating = new Map<string, Promise<DurableCell | undefined>>();
  private stops: (() => Promise<void>)[] = [];
  private started: Promise<void> | undefined;
  private counter = 0;
  private stopped = false;
  /** Garbage and undeliverable messages written to the dead-letter stream by this node. */
  rejected = 0;

  constructor(private readonly options: DurableNodeOptions) {}

  get log(): MailboxLog {
    return this.options.log;
  }

  knows(address: string): boolean {
    return this.known.has(address);
  }

  remember(address: string): void {
    this.known.add(address);
  }

  /** Starts one consumer per shard (once). */
  start(): Promise<void> {
    this.started ??= (async () => {
      for (let shard = 0; shard < this.options.log.shards; shard++) {
        const ackWaitMs = this.options.ackWaitMs;
        const handler = (delivery: MailboxDelivery) => {
          this.onDelivery(delivery).catch((error: unknown) => {
            // A bug here must not become an unhandled rejection; the log redelivers the message later.
            this.options.logger.error({ err: toPlainError(error), subject: delivery.subject, seq: delivery.seq }, 'durable delivery failed');
            delivery.nak(1_000);
          });
        };
        this.stops.push(await this.options.log.consume(shard, handler, ackWaitMs === undefined ? undefined : { ackWaitMs }));
      }
    })();
    return this.started;
  }

  /** Restores every stored actor that is still active; returns their addresses. */
  async recover(): Promise<string[]> {
    const restored: string[] = [];
    for (const key of await this.options.store.keys(snapshotKey(this.options.core.name))) {
      const stored = await this.options.store.get(key);
      if (!stored) continue;
      const record = decodeRecord(stored.value);
      this.known.add(record.address);
      if (record.status !== 'active' || this.options.core.cell(record.address)) continue;
      const cell = await this.cellFor(record.address);
      if (cell) restored.push(record.address);
    }
    await this.start();
    return restored;
  }

  /** Appends `event` to the actor's durable mailbox; resolves once it is stored in the log. */
  async send(address: string, event: EventObject, from: string | undefined, reply: ReplyTarget | undefined): Promise<AppendResult> {
    this.known.add(address);
    const id = `${this.options.nodeId}.${++this.counter}`;
    const envelope = eventEnvelope(id, address, event, this.options.core.clock.now(), { from, correlationId: reply ? id : undefined });
    if (reply) this.asks.set(id, reply);
    const subject = mailboxSubject(this.options.core.name, shardOf(address, this.options.log.shards), address);
    try {
      return await this.appendWithRetry(subject, encodeEnvelope(envelope), id);
    } catch (error) {
      this.asks.delete(id);
      reply?.reject(error as Error);
      this.options.core.deadLetters.record(address, from, event.type, `mailbox log append failed: ${(error as Error).message}`);
      throw error;
    }
  }

  /**
   * Appends, retrying retryable failures (a server restart, a leader election) with the same message id, so a
   * retry never stores the message twice; bounded well inside the log's dedupe window (2 minutes by default).
   */
  private async appendWithRetry(subject: string, data: Uint8Array, msgId: string): Promise<AppendResult> {
    const deadline = Date.now() + APPEND_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.options.log.append(subject, data, msgId);
      } catch (error) {
        if (!isRetryable(error) || error instanceof NonRetryableError || Date.now() >= deadline || this.stopped) throw error;
        const delay = backoffDelay(APPEND_BACKOFF, attempt);
        this.options.logger.warn({ err: toPlainError(error), subject, attempt, delayMs: delay }, 'mailbox append failed; retrying with the same message id');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private async onDelivery(delivery: MailboxDelivery): Promise<void> {
    let envelope: EventEnvelope;
    try {
      envelope = decodeEventEnvelope(delivery.data);
    } catch (error) {
      return this.reject(delivery, (error as Error).message);
    }
    const target = addressOfSubject(delivery.subject);
    const event: EventObject = envelope.payload;
    if (!target || target.address !== envelope.to) return this.reject(delivery, `envelope.to ${envelope.to} does not match the subject`);
    // Subject tokens allow more than address segments do: such an address can never name an actor (and would
    // fail every activation, a redelivery loop), so it is garbage.
    try {
      parseAddress(envelope.to);
    } catch (error) {
      return this.reject(delivery, (error as Error).message, envelope);
    }
    const reply = envelope.correlationId === undefined ? undefined : this.asks.get(envelope.correlationId);
    let cell: DurableCell | undefined;
    try {
      cell = await this.cellFor(envelope.to);
    } catch (error) {
      this.options.logger.error({ err: toPlainError(error), address: envelope.to }, 'durable activation failed');
      return delivery.nak(1_000);
    }
    if (!cell) return this.reject(delivery, 'no durable actor at this address', envelope, reply);
    if (delivery.seq <= cell.lastSeq) return delivery.ack(); // handled before; only its ack was lost
    const accepts = cell.logic.accepts;
    if (accepts !== undefined && !accepts(event.type)) return this.reject(delivery, `unhandled event type ${event.type}`, envelope, reply);
    if (envelope.correlationId !== undefined) this.asks.delete(envelope.correlationId);
    const outcome = cell.enqueue({
      event,
      from: envelope.from,
      reply,
      receipt: { seq: delivery.seq, ack: () => delivery.ack(), nak: () => delivery.nak(0) },
    });
    if (outcome === 'full') {
      if (reply && envelope.correlationId) this.asks.set(envelope.correlationId, reply);
      delivery.nak(250); // back-pressure: the log keeps it until the actor has room
    }
    // 'closing': the node is shutting down; leave it unacked so the next start handles it.
  }

  /** The active cell, or the one activated from its stored record; undefined when none is stored or it finished. */
  private async cellFor(address: string): Promise<DurableCell | undefined> {
    const existing = this.options.core.cell(address);
    if (existing instanceof DurableCell) {
      await existing.ready;
      return existing.state === 'stopped' ? undefined : existing;
    }
    if (existing) return undefined;
    let pending = this.activating.get(address);
    if (!pending) {
      pending = this.activateFromStore(address).finally(() => this.activating.delete(address));
      this.activating.set(address, pending);
    }
    return pending;
  }

  private async activateFromStore(address: string): Promise<DurableCell | undefined> {
    const stored = await this.options.store.get(snapshotKey(address));
    if (!stored) return undefined;
    const record = decodeRecord(stored.value);
    if (record.status !== 'active') return undefined;
    const again = this.options.core.cell(address); // spawned while we read
    if (again instanceof DurableCell) return again;
    const cell = this.options.activate(record);
    await cell.ready;
    return cell.state === 'stopped' ? undefined : cell;
  }

  private async reject(delivery: MailboxDelivery, reason: string, envelope?: EventEnvelope, reply?: ReplyTarget): Promise<void> {
    this.rejected++;
    const to = envelope?.to ?? addressOfSubject(delivery.subject)?.address ?? delivery.subject;
    this.options.core.deadLetters.record(to, envelope?.from, envelope?.type ?? '?', reason);
    if (envelope?.correlationId !== undefined) this.asks.delete(envelope.correlationId);
    reply?.reject(new DeadLetterError(to, reason));
    try {
      await this.options.log.deadLetter(delivery.subject, delivery.data, reason);
      delivery.term();
    } catch (error) {
      // The dead-letter stream is unreachable: let the log redeliver, so the message is not lost.
      this.options.logger.warn({ err: toPlainError(error), subject: delivery.subject }, 'dead-letter write failed');
      delivery.nak(1_000);
    }
  }

  /** Stops consuming; waits for in-flight writes of every durable cell. */
  async stop(): Promise<void> {
    this.stopped = true;
    const stops = this.stops;
    this.stops = [];
    await Promise.all(stops.map((stop) => stop()));
    for (const reply of this.asks.values()) reply.reject(new DeadLetterError('durable mailbox', 'system stopped before the message was handled'));
    this.asks.clear();
  }
}
