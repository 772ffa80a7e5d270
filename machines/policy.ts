/**
 * Step policy (issue 3), with Temporal's field names, its defaults, and the retry decision as pure functions.
 */
import { backoffDelay, type BackoffPolicy } from '../src/backoff.js';
import { errorTypeOf, isRetryable, type PlainError } from '../src/errors.js';

export interface RetryPolicy {
  /** Delay before the first retry, ms. Default 1,000. */
  readonly initialInterval?: number;
  /** Growth of the delay per retry. Default 2. */
  readonly backoffCoefficient?: number;
  /** Cap on any delay, ms. Default 100 × initialInterval (Temporal's default). */
  readonly maximumInterval?: number;
  /** Attempts in all, the first included; 1 means no retry. Default 3. */
  readonly maximumAttempts?: number;
  /** Error types (an error's `type`, else its name) that are never retried. */
  readonly nonRetryableErrorTypes?: readonly string[];
  /** Share of each delay randomized, 0..1. Default 0.2. Randomness comes from the workflow's seeded PRNG. */
  readonly jitter?: number;
  /** What happens when the attempts are used up: fail the step (default) or escalate to a person. */
  readonly onExhausted?: 'fail' | 'escalate';
}

export type ResolvedRetryPolicy = Required<RetryPolicy>;

export const DEFAULT_RETRY: ResolvedRetryPolicy = Object.freeze({
  initialInterval: 1_000,
  backoffCoefficient: 2,
  maximumInterval: 100_000,
  maximumAttempts: 3,
  nonRetryableErrorTypes: [],
  jitter: 0.2,
  onExhausted: 'fail',
});

export function resolveRetry(retry: RetryPolicy | undefined): ResolvedRetryPolicy {
  const initialInterval = retry?.initialInterval ?? DEFAULT_RETRY.initialInterval;
  return {
    ...DEFAULT_RETRY,
    maximumInterval: Math.max(initialInterval, 100 * initialInterval),
    ...stripUndefined(retry ?? {}),
  } as ResolvedRetryPolicy;
}

/** Temporal's names mapped onto the shared backoff function's policy. */
export function toBackoff(retry: ResolvedRetryPolicy): BackoffPolicy {
  return { minMs: retry.initialInterval, maxMs: retry.maximumInterval, factor: retry.backoffCoefficient, jitter: retry.jitter };
}

/** Delay before retry number `retryNumber` (1 = first retry); a `retryAfterMs` hint on the error wins. */
export function retryDelay(retry: ResolvedRetryPolicy, retryNumber: number, error: PlainError, random: () => number): number {
  const hint = error.data?.['retryAfterMs'];
  if (typeof hint === 'number' && Number.isFinite(hint) && hint >= 0) return hint;
  return backoffDelay(toBackoff(retry), retryNumber, random);
}

/** Never retried: non-retryable kinds, programmer errors, and the policy's `nonRetryableErrorTypes`. */
export function isPermanent(retry: ResolvedRetryPolicy, error: PlainError): boolean {
  return !isRetryable(error) || retry.nonRetryableErrorTypes.includes(errorTypeOf(error));
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
