/**
 * The embedded default transport: an in-process subject bus with NATS matching rules. Delivery is
 * asynchronous (a microtask), like a network hop, so code that works here does not rely on re-entrancy.
 * Behaviour follows the NATS transport where the contract suite (test/contract/transport.case.ts) checks it:
 * no delivery after unsubscribe (even of a message already queued), and close fails requests in flight.
 */
import { DeadLetterError, TimeoutError } from '../../errors.js';
import { isolate, subjectMatches, type SubscribeOptions, type Transport, type TransportMessage, type TransportStatus, type TransportSubscription } from '../transport.js';

interface Subscriber {
  readonly pattern: string;
  readonly handler: (message: TransportMessage) => void;
  readonly queue: string | undefined;
}

export function createMemoryTransport(): Transport {
  const subscribers = new Set<Subscriber>();
  const statusListeners = new Set<(status: TransportStatus) => void>();
  /** Rejecters of requests in flight, so close() can fail them at once as the NATS client does. */
  const pending = new Set<() => void>();
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
    // Re-checked at delivery: a subscriber removed meanwhile (unsubscribe, close) gets nothing.
    for (const sub of plain) queueMicrotask(() => subscribers.has(sub) && sub.handler(message));
    return plain.length;
  }

  function subscribe(pattern: string, handler: (message: TransportMessage) => void, options?: SubscribeOptions): TransportSubscription {
    const sub: Subscriber = { pattern, handler, queue: options?.queue };
    subscribers.add(sub);
    return { unsubscribe: () => void subscribers.delete(sub) };
  }

  function request(subject: string, data: Uint8Array, timeoutMs: number): Promise<TransportMessage> {
    if (closed) return Promise.reject(new DeadLetterError(subject, 'transport is closed'));
    const inbox = `_INBOX.memory.${++inboxCounter}`;
    return new Promise<TransportMessage>((resolve, reject) => {
      const finish = (error: Error | undefined, message?: TransportMessage) => {
        clearTimeout(timer);
        sub.unsubscribe();
        pending.delete(onClose);
        if (error) reject(error);
        else resolve(message!);
      };
      const fail = (error: Error) => finish(error);
      const onClose = () => fail(new DeadLetterError(subject, 'transport is closed'));
      const timer = setTimeout(() => fail(new TimeoutError(`request to ${subject} timed out after ${timeoutMs} ms`, timeoutMs)), timeoutMs);
      const sub = subscribe(inbox, (message) => finish(undefined, message));
      pending.add(onClose);
      if (deliver({ subject, data, reply: inbox }) === 0) fail(new DeadLetterError(subject, 'no responders'));
    });
  }

  return {
    kind: 'memory',
    publish(subject, data, reply) {
      if (closed) return;
      deliver(reply === undefined ? { subject, data } : { subject, data, reply });
    },
    subscribe,
    request: (subject, data, { timeoutMs }) => request(subject, data, timeoutMs),
    onStatus(listener) {
      statusListeners.add(listener);
      return () => void statusListeners.delete(listener);
    },
    async close() {
      if (closed) return;
      closed = true;
      subscribers.clear();
      for (const onClose of [...pending]) onClose();
      for (const listener of statusListeners) isolate(() => listener({ type: 'closed' }));
      statusListeners.clear();
    },
  };
}

