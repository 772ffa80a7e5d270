export { findNonPlainData, type PlainDataProblem } from './plain-data.js';
export {
  ENVELOPE_VERSION,
  encode,
  decode,
  encodeEnvelope,
  decodeEnvelope,
  decodeEventEnvelope,
  eventEnvelope,
  roundTrip,
  type Envelope,
  type EventEnvelope,
} from './envelope.js';
export { decodeTells, encodeTell, encodeTellBatch, MAX_TELL_BATCH, type DecodedTell, type DecodedTellBatch, type TellMeta } from './tell-batch.js';
