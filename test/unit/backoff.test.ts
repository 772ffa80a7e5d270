import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from '../../src/index.js';
import { backoffProblem } from '../../src/backoff.js';

const noJitter: BackoffPolicy = { minMs: 100, maxMs: 10_000, factor: 2, jitter: 0 };

/** A random source that replays `values` in order (then repeats the last). */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)]!;
}

describe('backoffDelay', () => {
  it('starts at minMs and grows by factor per attempt', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(noJitter, n))).toEqual([100, 200, 400, 800, 1_600]);
    expect([1, 2, 3].map((n) => backoffDelay({ ...noJitter, factor: 3 }, n))).toEqual([100, 300, 900]);
  });

  it('stays constant with factor 1', () => {
    expect([1, 5, 50].map((n) => backoffDelay({ ...noJitter, factor: 1 }, n))).toEqual([100, 100, 100]);
  });

  it('is capped at maxMs, even for huge attempt numbers', () => {
    expect(backoffDelay(noJitter, 8)).toBe(10_000); // 100 * 2^7 = 12,800 > cap
    expect(backoffDelay(noJitter, 1_000)).toBe(10_000);
    expect(backoffDelay(noJitter, 1e9)).toBe(10_000);
    expect(backoffDelay(noJitter, Number.MAX_SAFE_INTEGER)).toBe(10_000);
  });

  it('treats attempts below 1 as the first and floors fractional attempts', () => {
    expect(backoffDelay(noJitter, 0)).toBe(100);
    expect(backoffDelay(noJitter, -3)).toBe(100);
    expect(backoffDelay(noJitter, 2.9)).toBe(200);
  });

  it('spreads the delay over base ± jitter using the injected random source', () => {
    const policy: BackoffPolicy = { minMs: 1_000, maxMs: 10_000, factor: 2, jitter: 0.2 };
    expect(backoffDelay(policy, 1, () => 0)).toBe(800);
    expect(backoffDelay(policy, 1, () => 0.5)).toBe(1_000);
    expect(backoffDelay(policy, 1, () => 0.999_999)).toBe(1_200);
    expect(backoffDelay(policy, 2, () => 0.25)).toBe(1_800); // base 2,000: 1,600 + 800 * 0.25
  });

  it('keeps every jittered delay within [base * (1 - jitter), base * (1 + jitter)]', () => {
    const policy: BackoffPolicy = { minMs: 100, maxMs: 5_000, factor: 2, jitter: 0.5 };
    const random = sequence(...Array.from({ length: 200 }, (_, i) => (i * 0.618_033_988_7) % 1));
    for (let attempt = 1; attempt <= 200; attempt++) {
      const base = Math.min(5_000, 100 * 2 ** (attempt - 1));
      const delay = backoffDelay(policy, attempt, random);
      expect(delay).toBeGreaterThanOrEqual(Math.floor(base * 0.5));
      expect(delay).toBeLessThanOrEqual(Math.ceil(base * 1.5));
    }
  });

  it('never goes above maxMs * (1 + jitter) nor below 0', () => {
    const policy: BackoffPolicy = { minMs: 10, maxMs: 1_000, factor: 10, jitter: 1 };
    expect(backoffDelay(policy, 100, () => 0.999_999)).toBeLessThanOrEqual(2_000);
    expect(backoffDelay(policy, 100, () => 0)).toBe(0);
  });

  it('is 0 for minMs 0, whatever the jitter', () => {
    expect(backoffDelay({ minMs: 0, maxMs: 1_000, factor: 2, jitter: 0.5 }, 7, () => 0.9)).toBe(0);
  });

  it('uses Math.random when no random source is given, staying in bounds', () => {
    const policy: BackoffPolicy = { minMs: 1_000, maxMs: 1_000, factor: 2, jitter: 0.1 };
    for (let i = 0; i < 50; i++) {
      const delay = backoffDelay(policy, 1);
      expect(delay).toBeGreaterThanOrEqual(900);
      expect(delay).toBeLessThanOrEqual(1_100);
    }
  });

  it('has the documented defaults, frozen', () => {
    expect(DEFAULT_BACKOFF).toEqual({ minMs: 100, maxMs: 10_000, factor: 2, jitter: 0.2 });
    expect(Object.isFrozen(DEFAULT_BACKOFF)).toBe(true);
  });
});

describe('backoffProblem', () => {
  it('accepts a valid policy', () => {
    expect(backoffProblem(noJitter)).toBeUndefined();
    expect(backoffProblem({ minMs: 0, maxMs: 0, factor: 1, jitter: 1 })).toBeUndefined();
  });

  it.each([
    [{ minMs: -1 }, 'minMs'],
    [{ minMs: Number.NaN }, 'minMs'],
    [{ minMs: Number.POSITIVE_INFINITY }, 'minMs'],
    [{ maxMs: 50 }, 'maxMs'],
    [{ maxMs: Number.POSITIVE_INFINITY }, 'maxMs'],
    [{ factor: 0.5 }, 'factor'],
    [{ factor: Number.NaN }, 'factor'],
    [{ jitter: -0.1 }, 'jitter'],
    [{ jitter: 1.5 }, 'jitter'],
  ] as const)('names the field of %o', (override, field) => {
    const problem = backoffProblem({ ...noJitter, ...override });
    expect(problem?.field).toBe(field);
    expect(problem?.reason).toMatch(/must/);
  });
});
