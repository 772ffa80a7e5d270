/**
 * Time as a dependency. The runtime and every XState actor it creates use one injected clock, so tests
 * drive backoff, SLA deadlines and `after` delays deterministically with `createManualClock()`.
 * The shape matches XState's `Clock` (setTimeout/clearTimeout) plus `now()`.
 */

export type TimerHandle = unknown;

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  setTimeout(fn: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * Real time. A zero delay runs on the next turn of the event loop (`setImmediate`) rather than through
 * `setTimeout`, which Node clamps to 1 ms: a restart with no backoff should not wait a millisecond.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, delayMs) => (delayMs > 0 ? setTimeout(fn, delayMs) : setImmediate(fn)),
  // Each of Node's clear functions ignores the other kind of handle, so calling both is exact.
  clearTimeout: (handle) => {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
    clearImmediate(handle as ReturnType<typeof setImmediate>);
  },
};

export interface ManualClock extends Clock {
  /** Moves time forward, firing due timers in due order (timers they schedule fire too, if due). */
  advance(ms: number): void;
  /** Fires timers due now (delay 0) without moving time. */
  flush(): void;
  /** Timers not yet fired. */
  pending(): number;
}

interface ManualTimer {
  readonly id: number;
  readonly due: number;
  readonly fn: () => void;
}

/**
 * A clock that only moves when told to (XState's SimulatedClock, with `now()` and ordered firing).
 * @example
 * const clock = createManualClock(0);
 * const system = await createSystem({ name: 'test', clock });
 * clock.advance(1_000); // fires every timer due within the next second
 */
export function createManualClock(start = 0): ManualClock {
  let now = start;
  let nextId = 1;
  const timers = new Map<number, ManualTimer>();

  function fireDue(): void {
    // Bounded: each pass fires at least one timer or stops; timers scheduled while firing are picked up.
    for (;;) {
      let next: ManualTimer | undefined;
      for (const timer of timers.values()) {
        if (timer.due <= now && (next === undefined || timer.due < next.due || (timer.due === next.due && timer.id < next.id))) next = timer;
      }
      if (next === undefined) return;
      timers.delete(next.id);
      next.fn();
    }
  }

  return {
    now: () => now,
    setTimeout(fn, delayMs) {
      const id = nextId++;
      timers.set(id, { id, due: now + Math.max(0, delayMs), fn });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    advance(ms) {
      const target = now + ms;
      // Step through each due time so `now()` reads the timer's own due time while it fires.
      for (;;) {
        let nextDue = Infinity;
        for (const timer of timers.values()) if (timer.due <= target && timer.due < nextDue) nextDue = timer.due;
        if (nextDue === Infinity) break;
        now = Math.max(now, nextDue);
        fireDue();
      }
      now = target;
      fireDue();
    },
    flush: fireDue,
    pending: () => timers.size,
  };
}
