/**
 * Location transparency for non-durable actors: a tell or ask to an address this node does not host goes out
 * on `troupe.<system>.rpc.<address tokens>`; every node subscribes and the one hosting the actor delivers it
 * (an ask is answered on the request's reply subject). This is core NATS: at most once, documented as such —
 * what must arrive goes to a durable actor through its mailbox stream instead. Never under a stream-captured
 * subject, or a request would get JetStream's publish ack instead of the actor's answer.
 *
 * Garbage on the subjects is counted and dropped; it never reaches an actor or crashes the node.
 *
 * Tells to one address made in the same turn go out as one message (a tell batch, in order: codec/tell-batch.ts),
 * so a burst costs one publish and one parse on each side instead of one per tell, and each tell is encoded as its
 * event alone; an ask to that address first sends the tells queued before it, so it never overtakes them.
 */
import { context, type Context } from '@opentelemetry/api';
import { extractContext, injectContext } from '../observability/propagation.js';
import type { EventObject } from 'xstate';
import { decode, decodeEventEnvelope, decodeTells, encode, encodeEnvelope, encodeTell, encodeTellBatch, eventEnvelope, type DecodedTellBatch, type EventEnvelope } from '../codec/index.js';
import { DeadLetterError, errorFromPlain, isPlainError, toPlainError, type PlainError } from '../errors.js';
import type { Logger } from '../log/index.js';
import type { ActorSystemCore } from '../system/actor-system.js';
import { addressOfTokens, addressTokens, parseAddress } from '../system/address.js';
import type { ReplyTarget } from '../system/message.js';
import type { Transport, TransportMessage, TransportSubscription } from '../transport/transport.js';

/** Tells to one address sent as one message at most: this many, or this many bytes (well under max_payload). */
const MAX_BATCH = 1_000;
const MAX_BATCH_BYTES = 256 * 1024;

/** Addresses whose rpc subject is kept. */
const SUBJECT_CACHE = 10_000;

type Answer = { readonly ok: true; readonly payload: unknown } | { readonly ok: false; readonly error: PlainError };

export function rpcSubject(system: string, address: string): string {
  return `troupe.${system}.rpc.${addressTokens(address)}`;
}

export class RpcEndpoint {
  private subscription: TransportSubscription | undefined;
  private counter = 0;
  /** Messages on the rpc subjects dropped: not valid tells or envelopes, or undeliverable (`runtimeStats().rpcDropped`). */
  garbage = 0;

  constructor(
    private readonly core: ActorSystemCore,
    private readonly transport: Transport,
    private readonly nodeId: string,
    private readonly log: Logger,
    /**
     * Durable actors, as senders and as names learnt: a tell sent by a durable actor says so, and the receiving node
     * remembers the sender as durable, so its own messages back go to the sender's mailbox (exactly once, across a
     * shard handover) rather than through this at-most-once relay.
     */
    private readonly durable: { readonly isLocalDurable: (address: string) => boolean; readonly learn: (address: string) => void } = { isLocalDurable: () => false, learn: () => {} },
  ) {}

  start(): void {
    this.subscription ??= this.transport.subscribe(`troupe.${this.core.name}.rpc.>`, (message) => this.receive(message));
  }

  stop(): void {
    this.flushAll(); // the tells of this turn still go out
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  /** The core's remote resolver: sends to an address hosted elsewhere (or nowhere: then it is lost or times out). */
  readonly send = (address: string, event: EventObject, from: string | undefined, reply: ReplyTarget | undefined, trace?: Context): boolean => {
    if (this.subscription === undefined) return false;
    const meta = { from, traceContext: injectContext(trace), fromDurable: from !== undefined && this.durable.isLocalDurable(from) };
    const subject = this.subjectOf(address);
    if (reply === undefined) {
      this.queue(subject, address, encodeTell(event, meta));
      return true;
    }
    this.flush(subject); // the tells sent before this ask go first
    const bytes = encodeEnvelope(eventEnvelope(this.nextId(), address, event, this.core.clock.now(), meta));
    // The ask's own timer (set by the core) bounds the wait; the request's timeout only frees the inbox.
    this.transport.request(subject, bytes, { timeoutMs: this.core.config.askTimeoutMs * 2 }).then(
      (answer) => settle(reply, answer),
      (error: unknown) => reply.reject(error instanceof DeadLetterError ? new DeadLetterError(address, 'no node hosts this address') : (error as Error)),
    );
    return true;
  };

  /** rpc subjects by address, and back: computed once per address (bounded: a full cache starts over). */
  private readonly subjects = new Map<string, string>();
  private readonly addresses = new Map<string, string>();

  private subjectOf(address: string): string {
    let subject = this.subjects.get(address);
    if (subject === undefined) {
      if (this.subjects.size >= SUBJECT_CACHE) this.subjects.clear();
      this.subjects.set(address, (subject = rpcSubject(this.core.name, address)));
    }
    return subject;
  }

  private addressOf(subject: string): string | undefined {
    let address = this.addresses.get(subject);
    if (address === undefined) {
      const prefix = `troupe.${this.core.name}.rpc.`;
      if (!subject.startsWith(prefix)) return undefined;
      address = addressOfTokens(subject.slice(prefix.length));
      try {
        parseAddress(address);
      } catch {
        return undefined; // subject tokens allow more than address segments do: no actor can have it
      }
      if (this.addresses.size >= SUBJECT_CACHE) this.addresses.clear();
      this.addresses.set(subject, address);
    }
    return address;
  }

  private nextId(): string {
    return `${this.nodeId}.${++this.counter}`;
  }

  /** Tells waiting for the end of the turn, by subject, with their address and total size. */
  private readonly outbox = new Map<string, { to: string; parts: Uint8Array[]; bytes: number }>();
  private flushing = false;

  private queue(subject: string, to: string, bytes: Uint8Array): void {
    const queued = this.outbox.get(subject);
    if (queued === undefined) {
      this.outbox.set(subject, { to, parts: [bytes], bytes: bytes.byteLength });
      if (!this.flushing) {
        this.flushing = true;
        queueMicrotask(() => this.flushAll());
      }
      return;
    }
    queued.parts.push(bytes);
    queued.bytes += bytes.byteLength;
    if (queued.parts.length >= MAX_BATCH || queued.bytes >= MAX_BATCH_BYTES) this.flush(subject);
  }

  private flushAll(): void {
    this.flushing = false;
    for (const subject of [...this.outbox.keys()]) this.flush(subject);
  }

  private flush(subject: string): void {
    const queued = this.outbox.get(subject);
    if (queued === undefined) return;
    this.outbox.delete(subject);
    this.transport.publish(subject, encodeTellBatch(queued.to, this.nextId(), this.core.clock.now(), queued.parts));
  }

  private receive(message: TransportMessage): void {
    // Every node receives every rpc message (a node's own sends come back too): the subject names the address, so
    // one this node does not host is dropped before any decoding.
    const address = this.addressOf(message.subject);
    if (address === undefined || this.core.cell(address) === undefined) return;
    if (message.reply === undefined) this.receiveTells(message, address);
    else this.receiveAsk(message, address, message.reply);
  }

  private receiveTells(message: TransportMessage, address: string): void {
    let batch: DecodedTellBatch;
    try {
      batch = decodeTells(message.data);
    } catch (error) {
      this.dropped(message, 'rpc: dropped a message that is not a valid tell batch or envelope', error);
      return;
    }
    if (batch.to !== address) {
      this.dropped(message, 'rpc: dropped tells addressed to another address than their subject');
      return;
    }
    for (const { event, meta } of batch.tells) {
      if (meta?.fromDurable === true && meta.from !== undefined) this.durable.learn(meta.from);
      try {
        const traced = extractContext(meta?.traceContext);
        if (traced === undefined) this.core.tellDecoded(address, event, meta?.from);
        else context.with(traced, () => this.core.tellDecoded(address, event, meta?.from));
      } catch (error) {
        this.dropped(message, 'rpc: dropped an undeliverable tell', error); // e.g. an event the local check refuses
      }
    }
  }

  private receiveAsk(message: TransportMessage, address: string, replyTo: string): void {
    let envelope: EventEnvelope;
    try {
      envelope = decodeEventEnvelope(message.data);
    } catch (error) {
      this.dropped(message, 'rpc: dropped a request that is not a valid envelope', error);
      return;
    }
    if (envelope.to !== address) {
      this.dropped(message, 'rpc: dropped a request addressed to another address than its subject');
      return;
    }
    if (envelope.fromDurable === true && envelope.from !== undefined) this.durable.learn(envelope.from);
    const event: EventObject = envelope.payload;
    const traced = extractContext(envelope.traceContext);
    const asked = traced === undefined ? this.core.ask(address, event, undefined) : context.with(traced, () => this.core.ask(address, event, undefined));
    asked.then(
      (payload) => this.transport.publish(replyTo, encode({ ok: true, payload } satisfies Answer)),
      (error: unknown) => this.transport.publish(replyTo, encode({ ok: false, error: toPlainError(error) } satisfies Answer)),
    );
  }

  /** Garbage and undeliverable input: counted and dropped, like any other bad input (never thrown at the node). */
  private dropped(message: TransportMessage, why: string, error?: unknown): void {
    this.garbage++;
    this.log.debug(error === undefined ? { subject: message.subject } : { err: toPlainError(error), subject: message.subject }, why);
  }
}

function settle(reply: ReplyTarget, message: TransportMessage): void {
  try {
    const answer = decode(message.data) as Partial<Answer> & { error?: unknown };
    if (answer.ok === true) reply.resolve((answer as { payload: unknown }).payload);
    else if (answer.ok === false && isPlainError(answer.error)) reply.reject(errorFromPlain(answer.error));
    else reply.reject(new DeadLetterError('rpc', 'malformed answer'));
  } catch (error) {
    reply.reject(error as Error);
  }
}
