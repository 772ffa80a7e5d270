/** What travels through a mailbox, and the pending-ask handle a reply settles. */
import type { Context } from '@opentelemetry/api';
import type { EventObject } from 'xstate';

export interface ReplyTarget {
  readonly settled: boolean;
  resolve(payload: unknown): void;
  reject(error: Error): void;
}

/** A durable message's receipt: its log sequence, acked once a persisted record covers it. */
export interface Receipt {
  readonly seq: number;
  ack(): void;
  /** Writes the message to the durable dead-letter stream; resolves once stored (then it may be acked). */
  deadLetter(reason: string, incarnation: number): Promise<void>;
}

export interface Message {
  readonly event: EventObject;
  readonly from: string | undefined;
  readonly reply: ReplyTarget | undefined;
  readonly receipt?: Receipt;
  /** The OpenTelemetry context it was sent in (only when an SDK traces): its handling is a span under it. */
  readonly trace?: Context;
}

/** A local ask: settles once, clears its timeout timer. */
export class PendingAsk implements ReplyTarget {
  settled = false;
  timer: unknown;

  constructor(
    private readonly onResolve: (payload: unknown) => void,
    private readonly onReject: (error: Error) => void,
    private readonly clearTimer: (timer: unknown) => void,
  ) {}

  resolve(payload: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.clearTimer(this.timer);
    this.onResolve(payload);
  }

  reject(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.clearTimer(this.timer);
    this.onReject(error);
  }
}
