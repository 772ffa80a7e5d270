/**
 * The wire form of tells to one address sent in one turn (the rpc relay's batches): one header, then each tell as
 * its event alone, or its event and what it carries besides (sender, trace context). A full envelope per tell
 * repeats its version, address and type and costs about 2.5 times the encoding and decoding of the event itself;
 * the batch's header says them once.
 *
 *   ['troupe.tells', version, to, batchId, ts, entry, entry, ...]     entry: event | [event, meta]
 *
 * Each entry is encoded when it is told (`encodeTell`), so a later change to the event object is not what arrives,
 * and `encodeTellBatch` joins the encoded entries without decoding them. Decoding validates everything as an
 * envelope is validated: garbage, a wrong version or a malformed field is a `CodecError`.
 */
import { CodecError } from '../errors.js';
import { checkEventEnvelope, decode, encode, ENVELOPE_VERSION, isStringMap, type Envelope } from './envelope.js';
import { findNonPlainData } from './plain-data.js';

const MARKER = 'troupe.tells';
const HEADER_ITEMS = 5;
/** msgpack array16 bounds the batch (the relay sends far fewer at once). */
export const MAX_TELL_BATCH = 0xffff - HEADER_ITEMS;

/** What a tell carries besides its event; every field optional, as in an envelope. */
export type TellMeta = Pick<Envelope, 'from' | 'fromDurable' | 'traceContext'>;

export interface DecodedTell {
  readonly event: { readonly type: string };
  readonly meta: TellMeta | undefined;
}

export interface DecodedTellBatch {
  readonly to: string;
  readonly id: string;
  readonly ts: number;
  readonly tells: readonly DecodedTell[];
}

/** The fields of `source` a tell carries, only those set (an envelope's, or a sender's). */
function metaOf(source: TellMeta): TellMeta {
  return { ...(source.from ? { from: source.from } : {}), ...(source.fromDurable ? { fromDurable: true } : {}), ...(source.traceContext ? { traceContext: source.traceContext } : {}) };
}

/** One entry of a batch: the event alone when it carries nothing else (the common case, and the cheapest). */
export function encodeTell(event: { readonly type: string }, meta: TellMeta): Uint8Array {
  if (!meta.from && !meta.fromDurable && !meta.traceContext) return encode(event);
  return encode([event, metaOf(meta)]);
}

/** Joins encoded entries (`encodeTell`) under one header, without decoding them. */
export function encodeTellBatch(to: string, id: string, ts: number, entries: readonly Uint8Array[]): Uint8Array {
  const count = HEADER_ITEMS + entries.length;
  if (entries.length > MAX_TELL_BATCH) throw new CodecError(`a tell batch holds at most ${MAX_TELL_BATCH} tells, not ${entries.length}`);
  const arrayHeader = count < 16 ? Uint8Array.of(0x90 | count) : Uint8Array.of(0xdc, count >> 8, count & 0xff);
  const fields = [MARKER, ENVELOPE_VERSION, to, id, ts].map((field) => encode(field));
  let size = arrayHeader.byteLength;
  for (const part of fields) size += part.byteLength;
  for (const part of entries) size += part.byteLength;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of [arrayHeader, ...fields, ...entries]) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

function isTellBatch(value: unknown): value is unknown[] {
  return Array.isArray(value) && value[0] === MARKER;
}

/**
 * What arrives as tells: a batch, or a single event envelope (what any NATS client can publish to an actor), read
 * as a batch of one; validated either way, throws `CodecError` naming what is wrong.
 */
export function decodeTells(bytes: Uint8Array): DecodedTellBatch {
  const value = decode(bytes);
  if (isTellBatch(value)) return checkTellBatch(value);
  const e = checkEventEnvelope(value);
  return { to: e.to, id: e.id, ts: e.ts, tells: [{ event: e.payload, meta: metaOf(e) }] };
}

function checkTellBatch(value: unknown[]): DecodedTellBatch {
  const [, v, to, id, ts] = value;
  if (v !== ENVELOPE_VERSION) throw new CodecError(`unsupported tell batch version ${JSON.stringify(v)} (expected ${ENVELOPE_VERSION})`);
  if (typeof to !== 'string' || to.length === 0) throw new CodecError('tell batch: to must be a non-empty string');
  if (typeof id !== 'string' || id.length === 0) throw new CodecError('tell batch: id must be a non-empty string');
  if (typeof ts !== 'number') throw new CodecError('tell batch: ts must be a number');
  const tells: DecodedTell[] = [];
  for (let i = HEADER_ITEMS; i < value.length; i++) tells.push(checkEntry(value[i], i - HEADER_ITEMS));
  return { to, id, ts, tells };
}

function checkEntry(entry: unknown, index: number): DecodedTell {
  if (Array.isArray(entry)) {
    if (entry.length !== 2) throw new CodecError(`tell batch: entry ${index} must be an event or [event, meta]`);
    return { event: checkEvent(entry[0], index), meta: checkMeta(entry[1], index) };
  }
  return { event: checkEvent(entry, index), meta: undefined };
}

function checkEvent(event: unknown, index: number): { readonly type: string } {
  const e = event as { type?: unknown } | null;
  if (typeof e !== 'object' || e === null || Array.isArray(e) || typeof e.type !== 'string' || e.type.length === 0) {
    throw new CodecError(`tell batch: entry ${index} is not an event (an object with a non-empty string type)`);
  }
  const problem = findNonPlainData(e);
  if (problem) throw new CodecError(`tell batch: entry ${index} is not plain data at ${problem.path}: ${problem.reason}`);
  return e as { readonly type: string };
}

function checkMeta(meta: unknown, index: number): TellMeta {
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) throw new CodecError(`tell batch: entry ${index} meta must be a map`);
  const m = meta as Record<string, unknown>;
  if (m['from'] !== undefined && (typeof m['from'] !== 'string' || m['from'].length === 0)) throw new CodecError(`tell batch: entry ${index} from must be a non-empty string`);
  if (m['fromDurable'] !== undefined && typeof m['fromDurable'] !== 'boolean') throw new CodecError(`tell batch: entry ${index} fromDurable must be a boolean`);
  if (m['traceContext'] !== undefined && !isStringMap(m['traceContext'])) {
    throw new CodecError(`tell batch: entry ${index} traceContext must be a map of strings`);
  }
  return m as TellMeta;
}
