export { findNonPlainData, type PlainDataProblem } from './plain-data.js';
export { ENVELOPE_VERSION, encode, decode, encodeEnvelope, decodeEnvelope, roundTrip, type Envelope } from './envelope.js';
