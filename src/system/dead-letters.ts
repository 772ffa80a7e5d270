/**
 * Dead letters: messages that could not be delivered (unknown or stopped address, unhandled event type,
 * full mailbox, a handler that failed on them). Each one is counted by reason, published as an
 * `rt.deadLetter` event, kept in a short ring for inspection, and logged at most once per window.
 */
import { createThrottle, type Logger } from '../log/index.js';
import type { EventStream } from './events.js';

export interface DeadLetter {
  readonly to: string;
  readonly from: string | undefined;
  readonly eventType: string;
  readonly reason: string;
  readonly ts: number;
}

const RECENT = 100;

export class DeadLetterOffice {
  private total = 0;
  private readonly byReason = new Map<string, number>();
  private readonly ring: DeadLetter[] = [];
  private readonly throttle: ReturnType<typeof createThrottle>;

  constructor(
    private readonly events: EventStream,
    private readonly log: Logger,
    private readonly now: () => number,
    windowMs: number,
  ) {
    this.throttle = createThrottle(windowMs, now);
  }

  record(to: string, from: string | undefined, eventType: string, reason: string): void {
    const letter: DeadLetter = { to, from, eventType, reason, ts: this.now() };
    this.total++;
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
    if (this.ring.length >= RECENT) this.ring.shift();
    this.ring.push(letter);
    if (this.events.active) this.events.publish({ type: 'rt.deadLetter', ...letter, from: from ?? '', count: this.total });
    this.throttle((suppressed) => this.log.warn({ to, from, eventType, reason, suppressed }, 'dead letter'));
  }

  /** Total dead letters, or those with one reason (e.g. 'mailbox-full'). */
  count(reason?: string): number {
    return reason === undefined ? this.total : (this.byReason.get(reason) ?? 0);
  }

  /** The most recent dead letters, oldest first (at most 100). */
  recent(): readonly DeadLetter[] {
    return [...this.ring];
  }
}
