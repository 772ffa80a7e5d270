/**
 * What the JetStream mailbox log reports while it heals itself (DESIGN, NATS facts: "surface it as an
 * event"): an append retried through a JetStream leader election, a shard consumer re-created after a
 * server restart or outage, a handler that threw. Event types are namespaced `rt.mbox.*` strings.
 */
import type { TroupeError } from '../../errors.js';

export type MailboxLogEvent =
  /** `append` / `deadLetter` met a transient "JetStream unavailable" and retries with the same msgID. */
  | { readonly type: 'rt.mbox.append-retry'; readonly subject: string; readonly attempt: number; readonly delayMs: number; readonly error: TroupeError }
  /** A shard's consume loop ended (server restart, stalled pulls, consumer lost) and is re-created after `delayMs`. */
  | { readonly type: 'rt.mbox.consumer-restart'; readonly shard: number; readonly attempt: number; readonly delayMs: number; readonly reason: string }
  /** The handler threw; the delivery stays unacked, so it is redelivered after ack_wait. */
  | { readonly type: 'rt.mbox.handler-error'; readonly shard: number; readonly seq: number; readonly error: unknown };

export type MailboxLogListener = (event: MailboxLogEvent) => void;

/**
 * Calls the listener without letting it throw into the client. With no listener, a handler error is rethrown
 * on a fresh macrotask (STYLE §6, xstate's reportUnhandledError): a bug in the handler stays loud.
 */
export function createReporter(listener: MailboxLogListener | undefined): MailboxLogListener {
  return (event) => {
    if (!listener) {
      if (event.type === 'rt.mbox.handler-error') setTimeout(() => { throw event.error; });
      return;
    }
    try {
      listener(event);
    } catch (error) {
      setTimeout(() => { throw error; });
    }
  };
}
