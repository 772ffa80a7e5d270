/**
 * Classifies `@nats-io/*` failures of the JetStream mailbox log into Troupe's typed errors, so no client
 * error type leaks above src/persistence/jetstream.
 */
import { errors as natsErrors } from '@nats-io/transport-node';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { NonRetryableError, RetryableError, TimeoutError, TroupeError } from '../../errors.js';

/** Server error code for a message over the stream's `max_msg_size`. */
const MESSAGE_SIZE_EXCEEDED = 10054;

/**
 * True for the transient "JetStream is not answering right now" failures that `append` retries itself with
 * the same msgID: `JetStreamNotEnabled` (the client's name for no responders: a JetStream leader election, or
 * a server whose JetStream is still recovering after a restart) and API errors with status 503.
 */
export function isJetStreamUnavailable(error: unknown): boolean {
  // The package does not export the JetStreamNotEnabled class from its entry point: match its name.
  return (error instanceof Error && error.name === 'JetStreamNotEnabled') || (error instanceof JetStreamApiError && error.status === 503);
}

/** The typed error for a failed JetStream call; `what` names the operation in the message. */
export function toTroupeError(error: unknown, what: string, timeoutMs: number): TroupeError {
  if (error instanceof TroupeError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  if (isJetStreamUnavailable(error)) {
    return new RetryableError(`${what}: JetStream unavailable (${reason})`, { cause: error, type: 'JetStreamUnavailable' });
  }
  if (error instanceof natsErrors.TimeoutError) return new TimeoutError(`${what}: no answer within ${timeoutMs} ms`, timeoutMs, { cause: error });
  if (error instanceof natsErrors.ClosedConnectionError || error instanceof natsErrors.DrainingConnectionError) {
    return new NonRetryableError(`${what}: the NATS connection is closed`, { cause: error, type: 'ConnectionClosed' });
  }
  if (error instanceof natsErrors.InvalidArgumentError || (error instanceof JetStreamApiError && error.code === MESSAGE_SIZE_EXCEEDED)) {
    return new NonRetryableError(`${what}: ${reason}`, { cause: error, type: 'MessageTooLarge' });
  }
  if (error instanceof JetStreamApiError && error.status >= 400 && error.status < 500) {
    return new NonRetryableError(`${what}: ${reason} (JetStream error ${error.code})`, { cause: error, type: 'JetStreamApiError' });
  }
  // Anything else (a 5xx, a socket error) may well pass on a later try.
  return new RetryableError(`${what}: ${reason}`, { cause: error });
}

export function isConsumerNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound;
}

export function isStreamNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound;
}
