/**
 * The wire envelope and its msgpackr codec. Everything decoded from the wire is validated here before the
 * runtime sees it: garbage bytes, a wrong version or a malformed field become a typed `CodecError`.
 */
import { Packr } from 'msgpackr';
import { CodecError } from '../errors.js';
import { findNonPlainData } from './plain-data.js';

export const ENVELOPE_VERSION = 1;

export interface Envelope {
  readonly v: number;
  /** Unique per message; JetStream drops duplicate publishes by it (`Nats-Msg-Id`). */
  readonly id: string;
  readonly to: string;
  readonly from?: string;
  readonly type: string;
  readonly payload: unknown;
  readonly correlationId?: string;
  readonly replyTo?: string;
  readonly traceId?: string;
  /** The sender is a durable actor: the receiver sends to it through its durable mailbox from then on. */
  readonly fromDurable?: boolean;
  /** The sender's trace context as its propagator's fields (W3C `traceparent`, `tracestate`), when it was traced. */
  readonly traceContext?: Readonly<Record<string, string>>;
  /** Epoch ms when the message was built. */
  readonly ts: number;
}

// Records off: the wire format stays self-describing and readable by other msgpack implementations.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

export function decode(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch (error) {
    throw new CodecError(`undecodable bytes (${bytes.byteLength} B)`, { cause: error });
  }
}

export function encodeEnvelope(envelope: Envelope): Uint8Array {
  return encode(envelope);
}

/** Decodes and validates an envelope; throws `CodecError` naming what is wrong. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  return checkEnvelope(decode(bytes));
}

/** Validates a decoded value as an envelope; throws `CodecError` naming what is wrong. */
function checkEnvelope(value: unknown): Envelope {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CodecError('envelope is not a map');
  const e = value as Record<string, unknown>;
  if (e['v'] !== ENVELOPE_VERSION) throw new CodecError(`unsupported envelope version ${JSON.stringify(e['v'])} (expected ${ENVELOPE_VERSION})`);
  for (const field of ['id', 'to', 'type'] as const) {
    if (typeof e[field] !== 'string' || (e[field] as string).length === 0) throw new CodecError(`envelope.${field} must be a non-empty string`);
  }
  for (const field of ['from', 'correlationId', 'replyTo', 'traceId'] as const) {
    if (e[field] !== undefined && typeof e[field] !== 'string') throw new CodecError(`envelope.${field} must be a string`);
  }
  if (typeof e['ts'] !== 'number') throw new CodecError('envelope.ts must be a number');
  if (e['fromDurable'] !== undefined && typeof e['fromDurable'] !== 'boolean') throw new CodecError('envelope.fromDurable must be a boolean');
  if (e['traceContext'] !== undefined && !isStringMap(e['traceContext'])) {
    throw new CodecError('envelope.traceContext must be a map of strings');
  }
  const problem = findNonPlainData(e['payload']);
  if (problem) throw new CodecError(`envelope.payload is not plain data at ${problem.path}: ${problem.reason}`);
  return e as unknown as Envelope;
}

/** What the runtime sends between nodes: an envelope whose payload is the event its `type` names. */
export interface EventEnvelope extends Envelope {
  readonly payload: { readonly type: string };
}

/** Builds the envelope of an event sent to `to` (the durable mailbox and the rpc subjects use the same shape). */
export function eventEnvelope(
  id: string,
  to: string,
  event: { readonly type: string },
  ts: number,
  extra: {
    readonly from?: string | undefined; readonly correlationId?: string | undefined; readonly replyTo?: string | undefined;
    readonly traceContext?: Readonly<Record<string, string>> | undefined;
    readonly fromDurable?: boolean | undefined;
  } = {},
): EventEnvelope {
  return {
    v: ENVELOPE_VERSION,
    id,
    to,
    type: event.type,
    payload: event,
    ts,
    ...(extra.from ? { from: extra.from } : {}),
    ...(extra.correlationId ? { correlationId: extra.correlationId } : {}),
    ...(extra.replyTo ? { replyTo: extra.replyTo } : {}),
    ...(extra.traceContext ? { traceContext: extra.traceContext } : {}),
    ...(extra.fromDurable ? { fromDurable: true } : {}),
  };
}

/** `decodeEnvelope`, and the payload must be the event its `type` names; throws CodecError otherwise. */
export function decodeEventEnvelope(bytes: Uint8Array): EventEnvelope {
  return checkEventEnvelope(decode(bytes));
}

/** A map of strings (a trace context's propagator fields). */
export function isStringMap(value: unknown): value is Readonly<Record<string, string>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}

/** Validates a decoded value as an event envelope; throws CodecError otherwise. */
export function checkEventEnvelope(value: unknown): EventEnvelope {
  const envelope = checkEnvelope(value);
  const payload = envelope.payload as { type?: unknown } | null;
  if (typeof payload !== 'object' || payload === null || payload.type !== envelope.type) {
    throw new CodecError('envelope.payload is not the event its type names');
  }
  return envelope as EventEnvelope;
}

/** The full codec round trip of a message: what a remote node would receive. */
export function roundTrip<T>(value: T): T {
  return decode(encode(value)) as T;
}
