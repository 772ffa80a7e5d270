/**
 * Asks that were handled without an answer yet, oldest first: a reply emitted later (a deferred reply) answers
 * the oldest. Timed-out asks stay in line so a late reply still matches the ask it was meant for; the line is
 * bounded (the oldest is dropped, and answered with `overflow()` if it was still waiting).
 */
import type { ReplyTarget } from './message.js';

export class ReplyLine {
  private readonly line: ReplyTarget[] = [];

  constructor(
    private readonly capacity: number,
    private readonly overflow: () => Error,
  ) {}

  wait(target: ReplyTarget): void {
    if (this.line.length >= this.capacity) this.line.shift()?.reject(this.overflow());
    this.line.push(target);
  }

  /** The oldest ask in line (settled or not), removed. */
  next(): ReplyTarget | undefined {
    return this.line.shift();
  }

  /** Empties the line, calling `settle` for every ask that is still waiting. */
  settleAll(settle: (target: ReplyTarget) => void): void {
    const waiting = this.line.splice(0);
    for (const target of waiting) if (!target.settled) settle(target);
  }
}
