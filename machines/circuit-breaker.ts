/**
 * The circuit breaker (issue 3): one actor per protected target, shared by every workflow in the system.
 *
 *   closed --N failures within the window--> open --cooldown--> halfOpen.waiting --request--> halfOpen.trial
 *   halfOpen.trial --success--> closed;  --failure, or no outcome within trialTimeoutMs--> open
 *
 * Ask protocol: a step asks `{ type: 'breaker.request' }` and gets `{ allowed, state, retryAfterMs? }` (while open,
 * the step routes to its fallback or fails fast with a retryable `CircuitOpen` error); it then tells the outcome as
 * `breaker.success` or `breaker.failure`. Half-open admits one trial call; a trial whose caller never reports
 * (it crashed) counts as a failure after `trialTimeoutMs`, so the breaker cannot stay half-open forever. Time comes
 * from the actor's clock, and each deadline is kept in `context.timers` so a restored breaker keeps it.
 */
import { setup, type AnyEventObject } from 'xstate';
import { REPLY_EMITTED } from './emit.js';
import type { GaugeReading } from '../src/observability/gauges.js';
import { isTimerFor, remainingMs, withTimer, type Timers } from './timers.js';
import { act, type ReducerArgs } from './workflow-context.js';

export type BreakerState = 'closed' | 'open' | 'halfOpen';

export interface CircuitBreakerInput {
  /** The protected target, for reports. */
  readonly target?: string;
  /** Failures within `windowMs` that open the circuit. Default 5. */
  readonly failureThreshold?: number;
  /** Default 60,000 ms. */
  readonly windowMs?: number;
  /** How long the circuit stays open before a trial call, ms. Default 30,000. */
  readonly cooldownMs?: number;
  /** How long a trial call may go unreported before it counts as failed, ms. Default 30,000. */
  readonly trialTimeoutMs?: number;
}

export interface CircuitBreakerContext {
  readonly target: string;
  readonly failureThreshold: number;
  readonly windowMs: number;
  readonly cooldownMs: number;
  readonly trialTimeoutMs: number;
  /** Times of recent failures, within the window. */
  readonly failures: readonly number[];
  readonly openedAt?: number;
  readonly timers: Timers;
}

/** The answer to `breaker.request` (and to `breaker.status`). */
export interface BreakerPermit {
  readonly allowed: boolean;
  readonly state: BreakerState;
  readonly retryAfterMs?: number;
  readonly failures: number;
}

export const DEFAULT_BREAKER = Object.freeze({ failureThreshold: 5, windowMs: 60_000, cooldownMs: 30_000, trialTimeoutMs: 30_000 });
const COOLDOWN = 'breaker:cooldown';
const TRIAL = 'breaker:trial';

type A = ReducerArgs<CircuitBreakerContext>;

const answer = (state: BreakerState, allowed: boolean, extra: (a: A) => Partial<BreakerPermit> = () => ({})) =>
  act<CircuitBreakerContext>((a) => ({
    emit: [{ type: REPLY_EMITTED, payload: { allowed, state, failures: a.context.failures.length, ...extra(a) } satisfies BreakerPermit }],
  }));

const recordFailure = act<CircuitBreakerContext>((a) => ({
  context: { failures: [...a.context.failures.filter((t) => t > a.now - a.context.windowMs), a.now] },
}));

const trip = act<CircuitBreakerContext>((a) => ({
  context: { openedAt: a.now, timers: withTimer({}, COOLDOWN, 'cooldown', a.now + a.context.cooldownMs) },
}));

const reset = act<CircuitBreakerContext>(() => ({ context: { failures: [], timers: {}, openedAt: undefined } }));

const startTrial = act<CircuitBreakerContext>((a) => ({ context: { timers: withTimer({}, TRIAL, 'trial', a.now + a.context.trialTimeoutMs) } }));

const clearTimers = act<CircuitBreakerContext>(() => ({ context: { timers: {} } }));

const retryAfter = (a: A) => ({ retryAfterMs: Math.max(0, (a.context.timers[COOLDOWN]?.dueAt ?? a.now) - a.now) });

/**
 * @example
 * system.register('breaker', circuitBreaker);
 * system.spawn('breaker', { id: 'breaker-crm', input: { target: 'crm', failureThreshold: 5, windowMs: 60_000 } });
 * step('history', fetchHistory, { breaker: 'support/breaker-crm', fallback: cachedHistory })
 */
const breakerMachine = setup({
  types: {} as { context: CircuitBreakerContext; input: CircuitBreakerInput | undefined; events: AnyEventObject; emitted: AnyEventObject },
  delays: {
    [COOLDOWN]: ({ context, system }: { context: CircuitBreakerContext; system: unknown }) => remainingMs(context.timers, COOLDOWN, system),
    [TRIAL]: ({ context, system }: { context: CircuitBreakerContext; system: unknown }) => remainingMs(context.timers, TRIAL, system),
  },
  guards: {
    tripped: ({ context }) => context.failures.length >= context.failureThreshold,
    cooldownTimer: ({ context, event }) => isTimerFor(context.timers, event, COOLDOWN),
    trialTimer: ({ context, event }) => isTimerFor(context.timers, event, TRIAL),
  },
}).createMachine({
  id: 'circuitBreaker',
  context: ({ input }) => ({
    target: input?.target ?? 'target',
    failureThreshold: input?.failureThreshold ?? DEFAULT_BREAKER.failureThreshold,
    windowMs: input?.windowMs ?? DEFAULT_BREAKER.windowMs,
    cooldownMs: input?.cooldownMs ?? DEFAULT_BREAKER.cooldownMs,
    trialTimeoutMs: input?.trialTimeoutMs ?? DEFAULT_BREAKER.trialTimeoutMs,
    failures: [],
    timers: {},
  }),
  initial: 'closed',
  states: {
    closed: {
      always: { guard: 'tripped', target: 'open', actions: trip },
      on: {
        'breaker.request': { actions: answer('closed', true) },
        'breaker.status': { actions: answer('closed', true) },
        'breaker.failure': { actions: recordFailure },
        'breaker.success': {},
      },
    },
    open: {
      after: { [COOLDOWN]: { target: 'halfOpen', actions: clearTimers } },
      on: {
        'troupe.timer': { guard: 'cooldownTimer', target: 'halfOpen', actions: clearTimers },
        'breaker.request': { actions: answer('open', false, retryAfter) },
        'breaker.status': { actions: answer('open', false, retryAfter) },
        // Outcomes of calls admitted before the circuit opened change nothing now.
        'breaker.failure': {},
        'breaker.success': {},
      },
    },
    halfOpen: {
      initial: 'waiting',
      on: {
        'breaker.status': { actions: answer('halfOpen', false) },
        'breaker.success': { target: 'closed', actions: reset },
        'breaker.failure': { target: 'open', actions: trip },
      },
      states: {
        waiting: { on: { 'breaker.request': { target: 'trial', actions: [startTrial, answer('halfOpen', true)] } } },
        trial: {
          after: { [TRIAL]: { target: '#circuitBreaker.open', actions: trip } },
          on: {
            'troupe.timer': { guard: 'trialTimer', target: '#circuitBreaker.open', actions: trip },
            // One trial at a time: everyone else waits for its outcome.
            'breaker.request': { actions: answer('halfOpen', false) },
          },
        },
      },
    },
  },
});

/** Breaker state as a gauge value: 0 closed, 1 half-open, 2 open. */
const BREAKER_GAUGE: Readonly<Record<string, number>> = { closed: 0, halfOpen: 1, open: 2 };

export const circuitBreaker = Object.assign(breakerMachine, {
  /** Metrics (issue 12): `troupe.breaker.state` per target (0 closed, 1 half-open, 2 open). */
  troupeGauges: (snapshot: unknown): readonly GaugeReading[] => {
    const s = snapshot as { value?: unknown; context?: { target?: unknown } };
    const value = typeof s.value === 'string' ? BREAKER_GAUGE[s.value] : undefined;
    if (value === undefined || typeof s.context?.target !== 'string') return [];
    return [{ name: 'troupe.breaker.state', labels: { target: s.context.target }, value }];
  },
});
