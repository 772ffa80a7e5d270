/**
 * Exponential backoff with jitter: one pure function shared by supervision restarts and the step statechart's
 * retries (Akka's `calculateDelay`). Randomness is a parameter, so tests and replays are deterministic.
 */

export interface BackoffPolicy {
  /** Delay before the first retry, ms. */
  readonly minMs: number;
  /** Upper bound on any delay, ms (before jitter). */
  readonly maxMs: number;
  /** Growth per attempt; 2 doubles the delay. */
  readonly factor: number;
  /** Share of the delay randomized, 0..1: 0.2 spreads a 1,000 ms delay over 800..1,200 ms. */
  readonly jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ minMs: 100, maxMs: 10_000, factor: 2, jitter: 0.2 });

/**
 * Delay before retry number `attempt` (1 for the first retry).
 * `random` returns a number in [0, 1); the result is never negative and never above `maxMs * (1 + jitter)`.
 */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(attempt));
  // Cap the exponent so huge attempt counts cannot overflow to Infinity before the min().
  const base = Math.min(policy.maxMs, policy.minMs * Math.pow(policy.factor, Math.min(n - 1, 1_000)));
  if (policy.jitter <= 0 || base === 0) return base;
  const spread = base * policy.jitter;
  return Math.max(0, Math.round(base - spread + 2 * spread * random()));
}

/**
 * The first problem with a policy, as `{ field, reason }`, or undefined when it is valid. Callers raise their own
 * typed error (config, child spec, retry policy) so the message names the field where the user wrote it.
 */
export function backoffProblem(policy: BackoffPolicy): { field: keyof BackoffPolicy; reason: string } | undefined {
  if (!(Number.isFinite(policy.minMs) && policy.minMs >= 0)) return { field: 'minMs', reason: 'must be a finite number >= 0' };
  if (!(Number.isFinite(policy.maxMs) && policy.maxMs >= policy.minMs)) return { field: 'maxMs', reason: 'must be a finite number >= minMs' };
  if (!(Number.isFinite(policy.factor) && policy.factor >= 1)) return { field: 'factor', reason: 'must be a finite number >= 1' };
  if (!(Number.isFinite(policy.jitter) && policy.jitter >= 0 && policy.jitter <= 1)) return { field: 'jitter', reason: 'must be between 0 and 1' };
  return undefined;
}
