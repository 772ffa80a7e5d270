/**
 * Durable timers for any XState machine. XState does not restore delayed events (`after`) from a snapshot
 * (xstate#5331), and its scheduler stamps them with `Date.now()` rather than the actor's clock. This clock
 * wraps the runtime clock for one incarnation: XState's scheduler records a scheduled event and then, in the
 * same call, asks the clock for a timer — so the one scheduled event without a `dueAt` gets it stamped
 * here. The clock is bound right after `createActor`, before `start()`: the initial state's timers are scheduled
 * during start, and each must get its own due time (issue 8: a 1 h timer was stored with a 1 s one's). At a durable point the root's pending timers are read back; after a restore they are scheduled again
 * through XState's own scheduler with the same ids, so leaving the state still cancels them.
 *
 * Relies on XState internals (`system._snapshot._scheduledEvents`, `system.scheduler`), checked by the
 * durable-timer tests against the pinned xstate version.
 */
import type { AnyActor, EventObject } from 'xstate';
import type { Clock, TimerHandle } from '../system/clock.js';
import type { PersistedTimer } from './durable-record.js';

interface ScheduledEvent {
  readonly source: unknown;
  readonly target: unknown;
  readonly event: EventObject;
  readonly delay: number;
  readonly id: string;
  readonly startedAt: number;
  dueAt?: number;
}

interface SchedulerSystem {
  readonly _snapshot: { readonly _scheduledEvents: Record<string, ScheduledEvent> };
  readonly scheduler: { schedule(source: unknown, target: unknown, event: EventObject, delay: number, id: string): void };
}

export class TimerStampingClock implements Clock {
  private system: SchedulerSystem | undefined;

  constructor(private readonly base: Clock) {}

  /** Called right after createActor, before `start()` schedules anything (see the module comment). */
  bind(actor: AnyActor): void {
    this.system = actor.system as unknown as SchedulerSystem;
  }

  now(): number {
    return this.base.now();
  }

  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    // The event being scheduled is the one not stamped yet (every earlier one was stamped on its own call).
    const events = this.system?._snapshot._scheduledEvents;
    if (events) for (const key in events) if (events[key]!.dueAt === undefined) events[key]!.dueAt = this.base.now() + delayMs;
    return this.base.setTimeout(fn, delayMs);
  }

  clearTimeout(handle: TimerHandle): void {
    this.base.clearTimeout(handle);
  }
}

/** The root actor's own pending delayed events (children's timers restart with the children). */
export function pendingTimers(actor: AnyActor): PersistedTimer[] {
  const events = (actor.system as unknown as SchedulerSystem)._snapshot._scheduledEvents;
  const timers: PersistedTimer[] = [];
  for (const key in events) {
    const scheduled = events[key]!;
    if (scheduled.source !== actor || scheduled.target !== actor) continue;
    timers.push({ id: scheduled.id, event: scheduled.event, dueAt: scheduled.dueAt ?? scheduled.startedAt + scheduled.delay });
  }
  return timers;
}

/**
 * Schedules restored timers on a restored root actor, earliest due first: overdue ones fire on the next turn, in
 * due-time order (a clock fires equal delays in the order they were set).
 */
export function rescheduleTimers(actor: AnyActor, timers: readonly PersistedTimer[], now: number): void {
  const scheduler = (actor.system as unknown as SchedulerSystem).scheduler;
  const byDue = [...timers].sort((a, b) => a.dueAt - b.dueAt);
  for (const timer of byDue) scheduler.schedule(actor, actor, timer.event, Math.max(0, timer.dueAt - now), timer.id);
}
