/**
 * The distributed transport: core NATS over `@nats-io/transport-node` v3. Core messaging is at-most-once
 * (a publish during a disconnect is dropped by the client), as the Transport contract says; anything that
 * must arrive goes through JetStream. Client errors are mapped to Troupe's typed errors here, so no
 * `@nats-io` error type leaks above this folder.
 */
import { errors as natsErrors, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { CodecError, DeadLetterError, TimeoutError } from '../../errors.js';
import { isolate, type Transport, type TransportMessage, type TransportStatus, type TransportSubscription } from '../transport.js';
import { connectNats, type NatsConnectionOptions } from './connection-options.js';
import { toTransportStatus } from './status-events.js';

/** A Transport that also exposes its connection, so JetStream pieces (KV store, mailbox streams) share it. */
export interface NatsTransport extends Transport {
  readonly kind: 'nats';
  readonly connection: NatsConnection;
}

/** Bounds the flush in `close()`: during an outage a flush would wait for a server that may never return. */
const CLOSE_FLUSH_MS = 2_000;

/**
 * Connects and returns a transport that owns the connection (`close()` closes it).
 * @example
 * const transport = await createNatsTransport({ servers: 'nats://127.0.0.1:4222', name: 'node-1' });
 * transport.onStatus((s) => log.info(s));
 */
export async function createNatsTransport(options: NatsConnectionOptions): Promise<NatsTransport> {
  return natsTransportOver(await connectNats(options));
}

/** Wraps an open connection; the transport takes ownership (its `close()` closes the connection). */
export function natsTransportOver(nc: NatsConnection): NatsTransport {
  const listeners = new Set<(status: TransportStatus) => void>();
  let closing: Promise<void> | undefined;

  const emit = (status: TransportStatus) => {
    for (const listener of listeners) isolate(() => listener(status));
  };
  void (async () => {
    for await (const status of nc.status()) {
      const mapped = toTransportStatus(status);
      if (mapped) emit(mapped);
    }
  })();
  // One 'closed' however the connection ends: close() here, or the client giving up on its own.
  const closedReported = nc.closed().then((error) => {
    if (error) emit({ type: 'error', message: error.message });
    emit({ type: 'closed' });
    listeners.clear();
  });

  const checkSize = (subject: string, data: Uint8Array) => {
    const max = nc.info?.max_payload;
    if (max !== undefined && data.byteLength > max) {
      throw new CodecError(`message to ${subject} is ${data.byteLength} bytes, over the server's max_payload of ${max} bytes`);
    }
  };

  return {
    kind: 'nats',
    connection: nc,
    publish(subject, data, reply) {
      if (nc.isClosed()) return; // like the memory transport: a closed transport drops, never throws
      checkSize(subject, data);
      nc.publish(subject, data, reply === undefined ? undefined : { reply });
    },
    subscribe(subject, handler, options): TransportSubscription {
      if (nc.isClosed()) return { unsubscribe() {} };
      const sub: Subscription = nc.subscribe(subject, {
        ...(options?.queue === undefined ? {} : { queue: options.queue }),
        callback: (error, msg) => {
          if (error) emit({ type: 'error', message: `subscription ${subject}: ${error.message}` });
          // A throwing handler would unwind into the client's protocol parser: isolate it.
          else isolate(() => handler(toMessage(msg)));
        },
      });
      return { unsubscribe: () => void (sub.isClosed() || sub.unsubscribe()) };
    },
    async request(subject, data, { timeoutMs }) {
      if (nc.isClosed()) throw new DeadLetterError(subject, 'transport is closed');
      checkSize(subject, data);
      try {
        return toMessage(await nc.request(subject, data, { timeout: timeoutMs }));
      } catch (error) {
        throw mapRequestError(error, subject, timeoutMs);
      }
    },
    onStatus(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    close() {
      closing ??= (async () => {
        if (!nc.isClosed()) {
          let timer: NodeJS.Timeout | undefined;
          const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_FLUSH_MS)));
          await Promise.race([nc.flush().catch(() => undefined), bound]);
          clearTimeout(timer);
          await nc.close().catch(() => undefined);
        }
        await closedReported;
      })();
      return closing;
    },
  };
}

function toMessage(msg: Msg): TransportMessage {
  const { subject, data, reply } = msg;
  return reply ? { subject, data, reply } : { subject, data };
}

function mapRequestError(error: unknown, subject: string, timeoutMs: number): unknown {
  // instanceof, not `name`: the client names NoRespondersError "NoResponders".
  if (error instanceof natsErrors.TimeoutError) {
    return new TimeoutError(`request to ${subject} timed out after ${timeoutMs} ms`, timeoutMs, { cause: error });
  }
  if (error instanceof natsErrors.RequestError && error.isNoResponders()) {
    return new DeadLetterError(subject, 'no responders', { cause: error });
  }
  // Closed before the call, or while it was in flight (the client then fails pending requests).
  if (error instanceof natsErrors.ClosedConnectionError || (error instanceof natsErrors.RequestError && /closed/.test(error.message))) {
    return new DeadLetterError(subject, 'transport is closed', { cause: error });
  }
  return error;
}

