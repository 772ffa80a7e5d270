/**
 * Maps the client's `status()` events to Troupe's `TransportStatus`. Pings, cluster updates, lame-duck
 * notices, stale-connection and force-reconnect notices carry no state change of their own (a real outage
 * still shows as 'disconnected'), so they map to nothing. 'close' is left to the transport, which reports
 * 'closed' exactly once from the connection's `closed()` promise (that also covers a client giving up).
 */
import type { Status } from '@nats-io/transport-node';
import type { TransportStatus } from '../transport.js';

export function toTransportStatus(status: Status): TransportStatus | undefined {
  switch (status.type) {
    case 'disconnect':
      return { type: 'disconnected', server: status.server };
    case 'reconnecting':
      return { type: 'reconnecting' };
    case 'reconnect':
      return { type: 'reconnected', server: status.server };
    case 'error':
      return { type: 'error', message: status.error.message };
    case 'slowConsumer':
      return { type: 'error', message: `slow consumer on ${status.sub.getSubject()}: ${status.pending} messages pending` };
    default:
      return undefined;
  }
}
