export { findNonPlainData, type PlainDataProblem } from './plain-data.js';
export {
  ENVELOPE_VERSION,
  encode,
  decode,
  encodeEnvelope,
  decodeEnvelope,
  decodeEventEnvelope,
  decodeEventEnvelopes,
  encodeEnvelopeBatch,
  eventEnvelope,
  roundTrip,
  type Envelope,
  type EventEnvelope,
} from './envelope.js';
