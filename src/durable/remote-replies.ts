/**
 * Answers to durable asks across nodes (issue 9): an ask is appended to the target's durable mailbox by the asking
 * node, and handled by whichever node hosts the target. The asking node keeps the pending ask by its correlation id
 * and names its own reply subject `troupe.<system>.reply.<node>` in the envelope; the hosting node answers there
 * (once the answer's state is persisted, like any durable answer). Core NATS, at most once: an answer that finds no
 * asker (it timed out, its process restarted) is dropped, and a re-run's second answer finds none either.
 *
 * Garbage on the reply subject is counted and dropped.
 */
import { decode, encode } from '../codec/index.js';
import { DeadLetterError, errorFromPlain, isPlainError, toPlainError, type PlainError } from '../errors.js';
import type { ReplyTarget } from '../system/message.js';
import type { Transport, TransportSubscription } from '../transport/transport.js';

type Answer = { readonly c: string } & ({ readonly ok: true; readonly payload: unknown } | { readonly ok: false; readonly error: PlainError });

export function replySubject(system: string, node: string): string {
  return `troupe.${system}.reply.${node}`;
}

export class RemoteReplies {
  readonly subject: string;
  private subscription: TransportSubscription | undefined;
  /** Messages on the reply subject that were not answers. */
  garbage = 0;

  constructor(
    private readonly transport: Transport,
    system: string,
    node: string,
    /** Takes (removes and returns) the pending ask with this correlation id. */
    private readonly take: (correlationId: string) => ReplyTarget | undefined,
  ) {
    this.subject = replySubject(system, node);
  }

  start(): void {
    this.subscription ??= this.transport.subscribe(this.subject, (message) => {
      let answer: Partial<Answer> & { error?: unknown };
      try {
        answer = decode(message.data) as Partial<Answer> & { error?: unknown };
      } catch {
        this.garbage++;
        return;
      }
      if (typeof answer?.c !== 'string') {
        this.garbage++;
        return;
      }
      const target = this.take(answer.c);
      if (target === undefined || target.settled) return; // timed out, or answered already
      if (answer.ok === true) target.resolve((answer as { payload: unknown }).payload);
      else if (answer.ok === false && isPlainError(answer.error)) target.reject(errorFromPlain(answer.error));
      else target.reject(new DeadLetterError(this.subject, 'malformed answer'));
    });
  }

  stop(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  /** The reply target of a message asked from another node: settling it publishes the answer to that node. */
  targetFor(replyTo: string, correlationId: string): ReplyTarget {
    const publish = (answer: Answer) => this.transport.publish(replyTo, encode(answer));
    let settled = false;
    return {
      get settled() {
        return settled;
      },
      resolve: (payload: unknown) => {
        if (settled) return;
        settled = true;
        publish({ c: correlationId, ok: true, payload });
      },
      reject: (error: Error) => {
        if (settled) return;
        settled = true;
        publish({ c: correlationId, ok: false, error: toPlainError(error) });
      },
    };
  }
}
