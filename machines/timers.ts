/**
 * Durable timers for pure machines (issue 3).
 *
 * XState's `after` transitions are not restored from a persisted snapshot (xstate#5331), so every machine in
 * `troupe/machines` records each pending deadline as an absolute due time in `context.timers`, next to the
 * named `after` delay that normally fires it. After a restore the runtime reads `pendingTimers(snapshot)` and,
 * at each `dueAt`, sends the recorded `event` (`{ type: 'troupe.timer', key }`); the machine handles it exactly as
 * the delayed transition. A timer fires at most once: its entry is removed when its state is left, and a
 * `troupe.timer` event whose key is not pending is ignored.
 */
export const TIMER_EVENT = 'troupe.timer';

/** The event the runtime sends when a restored timer is due. */
export interface TimerEvent {
  readonly type: typeof TIMER_EVENT;
  readonly key: string;
}

/** One pending deadline, stored in `context.timers[key]`. */
export interface TimerRecord {
  /** Absolute due time, ms since the epoch of the actor's clock. */
  readonly dueAt: number;
  /** What the deadline is for, e.g. `retry`, `startToClose`, `sla`. */
  readonly purpose: string;
  /** The event that fires this timer after a restore. */
  readonly event: TimerEvent;
}

export type Timers = Readonly<Record<string, TimerRecord>>;

/**
 * The actor's clock: the `clock` given to `createActor` (XState's `SimulatedClock`, or the runtime's clock) when it
 * tells time, else `Date.now()`. Machines never read wall time directly, so tests drive time by advancing a clock.
 */
export function nowOf(system: unknown): number {
  const clock = (system as { _clock?: { now?: () => number } } | undefined)?._clock;
  return typeof clock?.now === 'function' ? clock.now() : Date.now();
}

export function withTimer(timers: Timers, key: string, purpose: string, dueAt: number): Timers {
  // Keys are `<step>:<purpose>` (never `__proto__`); assignment avoids V8's slow spread-then-add (see `patch`).
  const out: Record<string, TimerRecord> = Object.assign({}, timers);
  out[key] = { dueAt, purpose, event: { type: TIMER_EVENT, key } };
  return out;
}

export function withoutTimers(timers: Timers, prefix: string): Timers {
  let any = false;
  for (const key in timers) if (key.startsWith(prefix)) { any = true; break; }
  if (!any) return timers;
  let changed = false;
  const out: Record<string, TimerRecord> = {};
  for (const [key, record] of Object.entries(timers)) {
    if (key.startsWith(prefix)) changed = true;
    else out[key] = record;
  }
  return changed ? out : timers;
}

/** Milliseconds until `key` is due (0 when overdue or unknown): the value of a named `after` delay. */
export function remainingMs(timers: Timers, key: string, system: unknown): number {
  const record = timers[key];
  return record === undefined ? 0 : Math.max(0, record.dueAt - nowOf(system));
}

/** True when `event` is the restored firing of a pending timer whose key starts with `prefix`. */
export function isTimerFor(timers: Timers, event: { type: string; key?: unknown }, prefix: string): boolean {
  return event.type === TIMER_EVENT && typeof event.key === 'string' && event.key.startsWith(prefix) && event.key in timers;
}

/**
 * The deadlines a restored actor is waiting for, earliest first. The durable runtime calls this after
 * `createActor(logic, { snapshot })` and sends each `event` at its `dueAt` (at once when overdue).
 *
 * @example
 * for (const t of pendingTimers(actor.getSnapshot())) scheduler.at(t.dueAt, () => actor.send(t.event));
 */
export function pendingTimers(snapshot: unknown): TimerRecord[] {
  const timers = (snapshot as { context?: { timers?: Timers } } | undefined)?.context?.timers;
  if (timers === undefined || timers === null) return [];
  return Object.values(timers).sort((a, b) => a.dueAt - b.dueAt);
}

/** One step of mulberry32: a seedable PRNG whose whole state is one uint32, so it lives in a snapshot. */
export function nextRandom(state: number): { value: number; state: number } {
  const next = (state + 0x6d2b79f5) >>> 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return { value: ((t ^ (t >>> 14)) >>> 0) / 4294967296, state: next };
}

/** A stable uint32 seed from a string (FNV-1a), e.g. the workflow id. */
export function seedFrom(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash >>> 0;
}

/** The one due time of `dueTimerChart`: the earliest `dueAt` of `items`, or no timer when there are none. */
export function earliestTimer(key: string, purpose: string, items: Readonly<Record<string, { readonly dueAt: number }>>): Timers {
  let due = Infinity;
  for (const item of Object.values(items)) due = Math.min(due, item.dueAt);
  return due === Infinity ? {} : withTimer({}, key, purpose, due);
}

/**
 * The chart of an actor with one durable due time, `context.timers[key]` (the pool, the rate limit): `route` picks
 * `timing` (a delayed transition armed at the due time, or the `troupe.timer` that replaces it after a restore) or
 * `idle`, and every change re-enters `route`, which re-arms it at the new due time. Spread `delays` and `guards`
 * into `setup()` and `states` into the machine (with `initial: 'route'`).
 */
// `onDue` is an `act(...)` action, typed for any machine like `act`'s own result.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function dueTimerChart(key: string, onDue: any) {
  type Args = { context: { timers: Timers }; event: { type: string }; system?: unknown };
  return {
    delays: { [key]: ({ context, system }: Args) => remainingMs(context.timers, key, system) },
    guards: {
      timing: ({ context }: Args) => key in context.timers,
      due: ({ context, event }: Args) => isTimerFor(context.timers, event, key),
    },
    states: {
      route: { always: [{ guard: 'timing', target: 'timing' }, { target: 'idle' }] },
      idle: {},
      timing: {
        after: { [key]: { target: 'route', actions: onDue } },
        on: { [TIMER_EVENT]: { guard: 'due', target: 'route', actions: onDue } },
      },
    },
  } as const;
}
