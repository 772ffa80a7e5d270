/**
 * The transport seam (L1): how bytes move between nodes. The actor core never imports an implementation;
 * runtime.ts passes one in through config. `memory/` is the embedded default (one process), `nats/` the
 * distributed one. Subjects are NATS-style: dot-separated tokens, `*` matches one token, `>` the rest.
 *
 * Delivery guarantees: `publish` is at-most-once (a NATS core publish during a disconnect is silently
 * dropped by the client), so nothing that must arrive goes through it; durable delivery is the mailbox
 * stream's job (persistence), not this interface's.
 */

export interface TransportMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  /** Reply subject, when the sender made a request. */
  readonly reply?: string;
}

export interface TransportSubscription {
  unsubscribe(): void;
}

export interface SubscribeOptions {
  /** Queue group: each message goes to one member of the group. */
  readonly queue?: string;
}

export interface RequestOptions {
  readonly timeoutMs: number;
}

/** Connection status changes, surfaced as runtime events. */
export type TransportStatus =
  | { readonly type: 'connected'; readonly server?: string }
  | { readonly type: 'disconnected'; readonly server?: string }
  | { readonly type: 'reconnecting' }
  | { readonly type: 'reconnected'; readonly server?: string }
  | { readonly type: 'error'; readonly message: string }
  | { readonly type: 'closed' };

export interface Transport {
  /** 'memory' or 'nats'. */
  readonly kind: string;
  /** At-most-once publish; never throws for a disconnected connection (the NATS client drops it silently). */
  publish(subject: string, data: Uint8Array, reply?: string): void;
  subscribe(subject: string, handler: (message: TransportMessage) => void, options?: SubscribeOptions): TransportSubscription;
  /** Request/reply; rejects with TimeoutError after `timeoutMs`, or DeadLetterError when nobody listens. */
  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<TransportMessage>;
  /** Status changes; returns an unsubscribe function. */
  onStatus(listener: (status: TransportStatus) => void): () => void;
  /** Flushes pending publishes and closes; idempotent. */
  close(): Promise<void>;
}

/** True when `subject` matches the NATS-style `pattern` (`*` one token, `>` one or more trailing tokens). */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const token = p[i];
    if (token === '>') return s.length > i;
    if (i >= s.length) return false;
    if (token !== '*' && token !== s[i]) return false;
  }
  return p.length === s.length;
}

/**
 * Runs a user callback (subscription handler, status listener) so that a throw cannot break the transport
 * (a NATS handler would unwind into the client's protocol parser): it is rethrown on a fresh macrotask,
 * where it stays loud (STYLE §6, xstate's reportUnhandledError).
 */
export function isolate(fn: () => void): void {
  try {
    fn();
  } catch (error) {
    setTimeout(() => {
      throw error;
    });
  }
}
