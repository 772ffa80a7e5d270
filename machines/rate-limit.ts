/**
 * A shared rate limit (issue 11): a token bucket for a provider's limits — requests per interval and, optionally,
 * model tokens per minute — that every step naming it shares. It speaks the pool's protocol (pool.ts), so a step
 * lists it in `uses` like a pool: `pool.acquire { requestId, replyTo, tokens? }` is answered by `pool.granted` as
 * soon as the buckets allow (FIFO, so a large request is not overtaken for ever), `pool.cancel` withdraws a waiting
 * request, and `pool.release` is accepted and changes nothing (a rate is spent, not held). A 429 seen by anyone
 * (`ratelimit.pause { retryAfterMs }`, e.g. from a step's error handler with the provider's `retryAfterMs`) pauses
 * the bucket for everyone, not only the caller. The time of the next grant is a durable timer (`context.timers`).
 */
import { setup, type AnyEventObject } from 'xstate';
import { InvalidConfigError, RetryableError, toPlainError } from '../src/errors.js';
import { REPLY_EMITTED, TELL_EMITTED } from './emit.js';
import type { PoolAcquireEvent, PoolNotice } from './pool.js';
import { dueTimerChart, withTimer, type TimerEvent, type Timers } from './timers.js';
import { act, type ReducerArgs } from './workflow-context.js';

export interface RateLimitInput {
  /** Requests allowed per `intervalMs` (also the burst). */
  readonly requests: number;
  readonly intervalMs: number;
  /** Model tokens per minute (a request names its estimate in `tokens`); default unlimited. */
  readonly tokensPerMinute?: number;
}

/** A request waiting for the bucket. */
export interface RateLimitRequest {
  readonly requestId: string;
  readonly replyTo: string;
  readonly tokens: number;
  readonly deadline: number | undefined;
  readonly enqueuedAt: number;
}

export interface RateLimitContext {
  readonly requests: number;
  readonly intervalMs: number;
  readonly tokensPerMinute: number | undefined;
  /** Requests left in the bucket (fractional: it refills continuously). */
  readonly available: number;
  readonly tokensAvailable: number;
  readonly refilledAt: number;
  /** No grant before this time (a provider's 429). */
  readonly pausedUntil: number;
  readonly queue: readonly RateLimitRequest[];
  readonly granted: number;
  readonly timers: Timers;
}

export type RateLimitEvent =
  | PoolAcquireEvent & { readonly tokens?: number }
  | { readonly type: 'pool.release'; readonly requestId: string }
  | { readonly type: 'pool.cancel'; readonly requestId: string }
  | { readonly type: 'ratelimit.pause'; readonly retryAfterMs: number }
  | { readonly type: 'ratelimit.status' }
  | TimerEvent;

type A = ReducerArgs<RateLimitContext>;
type Effect = { context?: Partial<RateLimitContext>; emit?: AnyEventObject[] };
const TICK = 'ratelimit:tick';
const MINUTE_MS = 60_000;

const tell = (to: string, event: PoolNotice): AnyEventObject => ({ type: TELL_EMITTED, to, event });

/** Refills the buckets up to `now`, grants what they allow in order, fails what waited past its deadline, re-arms. */
function serve(c: RateLimitContext, now: number, emit: AnyEventObject[]): Partial<RateLimitContext> {
  const elapsed = Math.max(0, now - c.refilledAt);
  let available = Math.min(c.requests, c.available + (elapsed * c.requests) / c.intervalMs);
  const tpm = c.tokensPerMinute;
  let tokens = tpm === undefined ? Infinity : Math.min(tpm, c.tokensAvailable + (elapsed * tpm) / MINUTE_MS);
  const queue: RateLimitRequest[] = [];
  let granted = c.granted;
  let blocked = false;
  for (const w of c.queue) {
    if (w.deadline !== undefined && w.deadline <= now) {
      const error = toPlainError(new RetryableError(`rate limit: no slot within ${w.deadline - w.enqueuedAt} ms`, { type: 'PoolDeadline' }));
      emit.push(tell(w.replyTo, { type: 'pool.expired', requestId: w.requestId, error }));
      continue;
    }
    // FIFO: once the head must wait, everyone behind it waits too.
    if (!blocked && now >= c.pausedUntil && available >= 1 && tokens >= w.tokens) {
      available -= 1;
      tokens -= w.tokens;
      granted++;
      emit.push(tell(w.replyTo, { type: 'pool.granted', requestId: w.requestId, leaseUntil: now }));
    } else {
      blocked = true;
      queue.push(w);
    }
  }
  let due = Infinity;
  const head = queue[0];
  if (head !== undefined) {
    const forRequest = available >= 1 ? now : now + ((1 - available) * c.intervalMs) / c.requests;
    const forTokens = tpm === undefined || tokens >= head.tokens ? now : now + ((head.tokens - tokens) * MINUTE_MS) / tpm;
    due = Math.ceil(Math.max(c.pausedUntil, forRequest, forTokens));
  }
  for (const w of queue) if (w.deadline !== undefined) due = Math.min(due, w.deadline);
  return {
    available, tokensAvailable: tokens === Infinity ? 0 : tokens, refilledAt: now, pausedUntil: c.pausedUntil, queue, granted,
    timers: due === Infinity ? {} : withTimer({}, TICK, 'rate-limit', due),
  };
}

const acquire = act<RateLimitContext>((a: A): Effect => {
  const e = a.event as Partial<PoolAcquireEvent> & { tokens?: unknown };
  if (typeof e.requestId !== 'string' || typeof e.replyTo !== 'string' || a.context.queue.some((w) => w.requestId === e.requestId)) return {};
  const waiting: RateLimitRequest = {
    requestId: e.requestId, replyTo: e.replyTo, tokens: typeof e.tokens === 'number' && e.tokens > 0 ? e.tokens : 0,
    deadline: typeof e.deadlineMs === 'number' ? a.now + e.deadlineMs : undefined, enqueuedAt: a.now,
  };
  const emit: AnyEventObject[] = [];
  return { context: serve({ ...a.context, queue: [...a.context.queue, waiting] }, a.now, emit), emit };
});

const cancel = act<RateLimitContext>((a: A): Effect => {
  const id = (a.event as { requestId?: unknown }).requestId;
  const emit: AnyEventObject[] = [];
  return { context: serve({ ...a.context, queue: a.context.queue.filter((w) => w.requestId !== id) }, a.now, emit), emit };
});

const pause = act<RateLimitContext>((a: A): Effect => {
  const ms = (a.event as { retryAfterMs?: unknown }).retryAfterMs;
  if (typeof ms !== 'number' || !(ms > 0)) return {};
  const emit: AnyEventObject[] = [];
  return { context: serve({ ...a.context, pausedUntil: Math.max(a.context.pausedUntil, a.now + ms) }, a.now, emit), emit };
});

const tick = act<RateLimitContext>((a: A): Effect => {
  const emit: AnyEventObject[] = [];
  return { context: serve(a.context, a.now, emit), emit };
});

const status = act<RateLimitContext>((a: A): Effect => ({
  emit: [{ type: REPLY_EMITTED, payload: { waiting: a.context.queue.length, granted: a.context.granted, pausedUntil: a.context.pausedUntil, available: Math.floor(a.context.available) } }],
}));

/**
 * @example
 * system.spawn(system.register('rate-limit', rateLimit), { id: 'openai-rpm', input: { requests: 500, intervalMs: 60_000, tokensPerMinute: 200_000 } });
 * step('draft', callModel, { uses: ['support/openai-rpm'] });
 */
const chart = dueTimerChart(TICK, tick);

export const rateLimit = setup({
  types: {} as { context: RateLimitContext; input: RateLimitInput; events: RateLimitEvent; emitted: AnyEventObject },
  delays: chart.delays,
  guards: chart.guards,
}).createMachine({
  id: 'rateLimit',
  context: ({ input }) => {
    if (!(Number.isInteger(input?.requests) && input.requests >= 1)) throw new InvalidConfigError('rateLimit.requests', 'must be an integer >= 1');
    if (!(typeof input.intervalMs === 'number' && input.intervalMs > 0)) throw new InvalidConfigError('rateLimit.intervalMs', 'must be a number > 0');
    if (input.tokensPerMinute !== undefined && !(input.tokensPerMinute > 0)) throw new InvalidConfigError('rateLimit.tokensPerMinute', 'must be a number > 0');
    return {
      requests: input.requests, intervalMs: input.intervalMs, tokensPerMinute: input.tokensPerMinute, available: input.requests,
      tokensAvailable: input.tokensPerMinute ?? 0, refilledAt: 0, pausedUntil: 0, queue: [], granted: 0, timers: {},
    };
  },
  initial: 'route',
  on: {
    'pool.acquire': { target: '.route', actions: acquire },
    'pool.cancel': { target: '.route', actions: cancel },
    'pool.release': {},
    'ratelimit.pause': { target: '.route', actions: pause },
    'ratelimit.status': { actions: status },
  },
  states: chart.states,
});
