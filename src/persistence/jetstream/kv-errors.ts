/**
 * Classifies `@nats-io/jetstream` / `@nats-io/kv` failures for the snapshot store, so no client error type
 * leaks above src/persistence/jetstream.
 */
import { errors as natsErrors } from '@nats-io/transport-node';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { CodecError } from '../../errors.js';

/** Server error code for a message over the stream's `max_msg_size` (the bucket's max value size). */
const MESSAGE_SIZE_EXCEEDED = 10054;

/** A CAS refusal: the key's last revision is not the expected one (or the key exists, for create). */
export function isWrongLastSequence(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence || error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/**
 * A value refused for its size: the client refuses a message over the server's max_payload, the server one
 * over the bucket's max value size. Both count the KV headers too, so a value just under a limit can still
 * land here after passing the store's own size check. Anything else comes back as it was.
 */
export function mapSizeError(error: unknown, key: string, size: number, limits: { maxPayload: number; maxValue: number }): unknown {
  if (error instanceof JetStreamApiError && error.code === MESSAGE_SIZE_EXCEEDED) {
    return new CodecError(`snapshot ${key} is ${size} bytes (plus KV headers), over the bucket's max value size of ${limits.maxValue} bytes`, { cause: error });
  }
  if (error instanceof natsErrors.InvalidArgumentError && /max_payload/.test(error.message)) {
    return new CodecError(`snapshot ${key} is ${size} bytes (plus KV headers), over the server's max_payload of ${limits.maxPayload} bytes`, { cause: error });
  }
  return error;
}
