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
