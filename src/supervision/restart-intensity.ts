/**
 * Restart intensity (OTP `add_restart`): a supervisor may restart at most `intensity` times within
 * `periodMs`; one more and it gives up and escalates. Pure: the clock reading is a parameter.
 */

export interface IntensityLimit {
  readonly intensity: number;
  readonly periodMs: number;
}

export interface IntensityResult {
  /** Restart times still inside the window, including `now` (oldest first). */
  readonly history: readonly number[];
  /** True when this restart is one too many: the supervisor must escalate instead. */
  readonly exceeded: boolean;
}

export function recordRestart(history: readonly number[], now: number, limit: IntensityLimit): IntensityResult {
  const kept = history.filter((t) => now - t < limit.periodMs);
  kept.push(now);
  return { history: kept, exceeded: kept.length > limit.intensity };
}
