/**
 * Addresses: `<system>/<path>`, the path following the supervision tree (`support/triage/classifier`).
 * Every segment matches `[A-Za-z0-9_-]+`, so it is safe as a NATS subject token and a KV key token.
 */
import { InvalidAddressError } from '../errors.js';

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const MAX_SEGMENT_LENGTH = 128;

/** Throws InvalidAddressError naming the segment when it is not `[A-Za-z0-9_-]+` (1..128 chars). */
export function validateSegment(segment: unknown, what = 'id'): string {
  if (typeof segment !== 'string') throw new InvalidAddressError(String(segment), `${what} must be a string`);
  if (segment.length === 0 || segment.length > MAX_SEGMENT_LENGTH || !SEGMENT.test(segment)) {
    throw new InvalidAddressError(segment, `${what} segment ${JSON.stringify(segment)} must match [A-Za-z0-9_-]{1,${MAX_SEGMENT_LENGTH}}`);
  }
  return segment;
}

/** Validates a whole address and returns its segments. */
export function parseAddress(address: unknown): string[] {
  if (typeof address !== 'string' || address.length === 0) throw new InvalidAddressError(String(address), 'address must be a non-empty string');
  const segments = address.split('/');
  for (const segment of segments) {
    if (!SEGMENT.test(segment) || segment.length > MAX_SEGMENT_LENGTH) {
      throw new InvalidAddressError(address, `segment ${JSON.stringify(segment)} must match [A-Za-z0-9_-]{1,${MAX_SEGMENT_LENGTH}}`);
    }
  }
  return segments;
}

export function childAddress(parent: string, id: string): string {
  return `${parent}/${id}`;
}

/**
 * The address as dot-separated tokens (`support/triage` -> `support.triage`): one NATS subject tail or KV key per
 * address, as the mailbox, rpc and control subjects and the snapshot, journal and passive-index keys use it.
 */
export function addressTokens(address: string): string {
  return address.split('/').join('.');
}

/** `addressTokens` back (`support.triage` -> `support/triage`); validate the result where it came from outside. */
export function addressOfTokens(tokens: string): string {
  return tokens.split('.').join('/');
}

/** The last segment: the actor's id within its parent. */
export function idOf(address: string): string {
  return address.slice(address.lastIndexOf('/') + 1);
}
