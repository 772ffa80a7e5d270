import { describe, expect, it } from 'vitest';
import { recordRestart } from '../../src/supervision/restart-intensity.js';

/** Records restarts at `times` in order; returns whether each one exceeded the limit. */
function run(times: number[], limit: { intensity: number; periodMs: number }): boolean[] {
  let history: readonly number[] = [];
  return times.map((now) => {
    const result = recordRestart(history, now, limit);
    history = result.history;
    return result.exceeded;
  });
}

describe('recordRestart (restart intensity)', () => {
  it('allows `intensity` restarts within the period and gives up on the next one', () => {
    expect(run([0, 0, 0, 0], { intensity: 3, periodMs: 5_000 })).toEqual([false, false, false, true]);
    expect(run([0, 10, 20, 30, 40], { intensity: 4, periodMs: 5_000 })).toEqual([false, false, false, false, true]);
  });

  it('with intensity 0, gives up on the first restart', () => {
    expect(run([0], { intensity: 0, periodMs: 5_000 })).toEqual([true]);
  });

  it('forgets restarts that left the window (a restart exactly periodMs ago is outside)', () => {
    const first = recordRestart([0, 1, 2], 5_000, { intensity: 3, periodMs: 5_000 });
    expect(first).toEqual({ history: [1, 2, 5_000], exceeded: false });
    const second = recordRestart([0, 1, 2], 4_999, { intensity: 3, periodMs: 5_000 });
    expect(second).toEqual({ history: [0, 1, 2, 4_999], exceeded: true });
  });

  it('never gives up at a steady rate the limit allows, and does when the rate is higher', () => {
    const everyHalfPeriod = Array.from({ length: 50 }, (_, i) => i * 500);
    expect(run(everyHalfPeriod, { intensity: 2, periodMs: 1_000 })).not.toContain(true);
    expect(run([0, 499, 998], { intensity: 2, periodMs: 1_000 })).toEqual([false, false, true]);
  });

  it('keeps history oldest first, including now', () => {
    expect(recordRestart([10, 20], 30, { intensity: 5, periodMs: 100 }).history).toEqual([10, 20, 30]);
  });

  it('is pure: the given history is not modified', () => {
    const history = Object.freeze([1, 2, 3]);
    const result = recordRestart(history, 4, { intensity: 1, periodMs: 2 });
    expect(history).toEqual([1, 2, 3]);
    expect(result.history).toEqual([3, 4]);
    expect(result.exceeded).toBe(true);
  });
});
