/**
 * The embedded default transport: an in-process subject bus with NATS matching rules. Delivery is
 * asynchronous (a microtask), like a network hop, so code that works here does not rely on re-entrancy.
 */
import { DeadLetterError, TimeoutError } from '../../errors.js';
import { subjectMatches, type SubscribeOptions, type Transport, type TransportMessage, type TransportStatus, type TransportSubscription } from '../transport.js';

interface Subscriber {
  readonly pattern: string;
  readonly handler: (message: TransportMessage) => void;
  readonly queue: string | undefined;
}

export function createMemoryTransport(): Transport {
  const subscribers = new Set<Subscriber>();
  const statusListeners = new Set<(status: TransportStatus) => void>();
  let inboxCounter = 0;
  let roundRobin = 0;
  let closed = false;

  function deliver(message: TransportMessage): number {
    const plain: Subscriber[] = [];
    const groups = new Map<string, Subscriber[]>();
    for (const sub of subscribers) {
      if (!subjectMatches(sub.pattern, message.subject)) continue;
      if (sub.queue === undefined) plain.push(sub);
      else groups.set(sub.queue, [...(groups.get(sub.queue) ?? []), sub]);
    }
    for (const members of groups.values()) plain.push(members[roundRobin++ % members.length]!);
    for (const sub of plain) queueMicrotask(() => sub.handler(message));
    return plain.length;
  }

  return {
    kind: 'memory',
    publish(subject, data, reply) {
      if (closed) return;
      deliver(reply === undefined ? { subject, data } : { subject, data, reply });
    },
    subscribe(pattern, handler, options?: SubscribeOptions): TransportSubscription {
      const sub: Subscriber = { pattern, handler, queue: options?.queue };
      subscribers.add(sub);
      return { unsubscribe: () => void subscribers.delete(sub) };
    },
    request(subject, data, { timeoutMs }) {
      if (closed) return Promise.reject(new DeadLetterError(subject, 'transport is closed'));
      const inbox = `_INBOX.memory.${++inboxCounter}`;
      return new Promise<TransportMessage>((resolve, reject) => {
        const timer = setTimeout(() => {
          sub.unsubscribe();
          reject(new TimeoutError(`request to ${subject} timed out after ${timeoutMs} ms`, timeoutMs));
        }, timeoutMs);
        const sub = this.subscribe(inbox, (message) => {
          clearTimeout(timer);
          sub.unsubscribe();
          resolve(message);
        });
        if (deliver({ subject, data, reply: inbox }) === 0) {
          clearTimeout(timer);
          sub.unsubscribe();
          reject(new DeadLetterError(subject, 'no responders'));
        }
      });
    },
    onStatus(listener) {
      statusListeners.add(listener);
      return () => void statusListeners.delete(listener);
    },
    async close() {
      if (closed) return;
      closed = true;
      subscribers.clear();
      for (const listener of statusListeners) listener({ type: 'closed' });
      statusListeners.clear();
    },
  };
}
