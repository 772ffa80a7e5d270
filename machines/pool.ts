/**
 * A resource pool (issue 11, its first part): an actor that guards a scarce resource — six agents sharing one GPU,
 * a tool with a licence for three sessions. It has a capacity (slots) and a fair queue: FIFO within a priority, and
 * priorities that age (a request gains one priority level per `agingMs` of waiting), so a stream of urgent work
 * never starves the rest. A request may carry a deadline (one not served in time fails with a retryable
 * `PoolDeadline` error, so the step's retry policy decides) and every grant is a lease with a timeout (a holder
 * that crashes or forgets gives its slot back when the lease runs out). The pool talks by tells, so a grant that
 * comes after minutes of waiting still finds its requester:
 *
 *   -> pool.acquire { requestId, replyTo, priority?, deadlineMs?, leaseMs? }   <- pool.granted { requestId, leaseUntil }
 *   -> pool.release { requestId } | pool.cancel { requestId }                   <- pool.expired { requestId, error }
 *   -> pool.status (ask: capacity, holders, queue)                              <- pool.revoked { requestId } (lease ran out)
 *
 * Requests are idempotent by `requestId` (an at-least-once sender may repeat one: a holder is granted again, a
 * queued one keeps its place). The nearest deadline or lease end is kept in `context.timers`, so a restored pool
 * keeps them (see timers.ts).
 */
import { setup, type AnyEventObject } from 'xstate';
import { InvalidConfigError, RetryableError, toPlainError, type PlainError } from '../src/errors.js';
import { REPLY_EMITTED, TELL_EMITTED } from './emit.js';
import { dueTimerChart, withTimer, type TimerEvent, type Timers } from './timers.js';
import { act, type ReducerArgs } from './workflow-context.js';

export const DEFAULT_POOL_AGING_MS = 10_000;
export const DEFAULT_POOL_LEASE_MS = 60_000;

export interface PoolInput {
  /** Slots: how many holders at once. */
  readonly capacity: number;
  /** A waiting request gains one priority level per this many ms (default 10,000). */
  readonly agingMs?: number;
  /** A grant's lease when the request names none, ms (default 60,000). */
  readonly leaseMs?: number;
}

export interface PoolAcquireEvent {
  readonly type: 'pool.acquire';
  readonly requestId: string;
  /** Where `pool.granted` / `pool.expired` / `pool.revoked` go. */
  readonly replyTo: string;
  /** Higher is served first; default 0. */
  readonly priority?: number;
  /** Fail the request (retryable `PoolDeadline`) when it is not granted within this many ms. */
  readonly deadlineMs?: number;
  readonly leaseMs?: number;
}
export type PoolCommand =
  | PoolAcquireEvent
  | { readonly type: 'pool.release'; readonly requestId: string }
  | { readonly type: 'pool.cancel'; readonly requestId: string }
  | { readonly type: 'pool.status' };
export type PoolNotice =
  | { readonly type: 'pool.granted'; readonly requestId: string; readonly leaseUntil: number }
  | { readonly type: 'pool.expired'; readonly requestId: string; readonly error: PlainError }
  | { readonly type: 'pool.revoked'; readonly requestId: string };

export interface PoolRequest {
  readonly requestId: string;
  readonly replyTo: string;
  readonly priority: number;
  readonly enqueuedAt: number;
  readonly deadline: number | undefined;
  readonly leaseMs: number;
}
export interface PoolLease {
  readonly requestId: string;
  readonly replyTo: string;
  readonly grantedAt: number;
  readonly leaseUntil: number;
  /** How long the request waited for its slot, ms. */
  readonly waitedMs: number;
}
export interface PoolStatus {
  readonly capacity: number;
  readonly holders: readonly PoolLease[];
  readonly queue: readonly PoolRequest[];
}

export interface PoolContext {
  readonly capacity: number;
  readonly agingMs: number;
  readonly leaseMs: number;
  /** Waiting requests in arrival order. */
  readonly queue: readonly PoolRequest[];
  readonly leases: Readonly<Record<string, PoolLease>>;
  readonly timers: Timers;
}

type A = ReducerArgs<PoolContext>;
type Effect = { context?: Partial<PoolContext>; emit?: AnyEventObject[] };
const TICK = 'pool:tick';

const tell = (to: string, event: PoolNotice): AnyEventObject => ({ type: TELL_EMITTED, to, event });

/** The request to serve next: the highest priority after aging, the earliest among equals. */
function best(queue: readonly PoolRequest[], agingMs: number, now: number): number {
  let pick = -1;
  let pickScore = -Infinity;
  for (let i = 0; i < queue.length; i++) {
    const r = queue[i]!;
    const score = r.priority + Math.floor((now - r.enqueuedAt) / agingMs);
    if (score > pickScore) {
      pick = i;
      pickScore = score;
    }
  }
  return pick;
}

/** Grants free slots to the best waiting requests, then re-arms the one timer at the nearest deadline or lease end. */
function settle(c: PoolContext, now: number, emit: AnyEventObject[]): Partial<PoolContext> {
  const queue = [...c.queue];
  const leases = { ...c.leases };
  while (Object.keys(leases).length < c.capacity && queue.length > 0) {
    const [next] = queue.splice(best(queue, c.agingMs, now), 1) as [PoolRequest];
    const lease: PoolLease = { requestId: next.requestId, replyTo: next.replyTo, grantedAt: now, leaseUntil: now + next.leaseMs, waitedMs: now - next.enqueuedAt };
    leases[next.requestId] = lease;
    emit.push(tell(next.replyTo, { type: 'pool.granted', requestId: next.requestId, leaseUntil: lease.leaseUntil }));
  }
  let due = Infinity;
  for (const r of queue) if (r.deadline !== undefined) due = Math.min(due, r.deadline);
  for (const l of Object.values(leases)) due = Math.min(due, l.leaseUntil);
  return { queue, leases, timers: due === Infinity ? {} : withTimer({}, TICK, 'pool', due) };
}

const acquire = act<PoolContext>((a: A): Effect => {
  const e = a.event as Partial<PoolAcquireEvent>;
  if (typeof e.requestId !== 'string' || typeof e.replyTo !== 'string') return {};
  const held = a.context.leases[e.requestId];
  if (held !== undefined) return { emit: [tell(held.replyTo, { type: 'pool.granted', requestId: held.requestId, leaseUntil: held.leaseUntil })] };
  if (a.context.queue.some((r) => r.requestId === e.requestId)) return {};
  const request: PoolRequest = {
    requestId: e.requestId, replyTo: e.replyTo, priority: typeof e.priority === 'number' ? e.priority : 0, enqueuedAt: a.now,
    deadline: typeof e.deadlineMs === 'number' ? a.now + e.deadlineMs : undefined, leaseMs: typeof e.leaseMs === 'number' ? e.leaseMs : a.context.leaseMs,
  };
  const emit: AnyEventObject[] = [];
  return { context: settle({ ...a.context, queue: [...a.context.queue, request] }, a.now, emit), emit };
});

/** Release (the holder is done) and cancel (the requester gave up, e.g. its workflow aborted) free the request either way. */
const free = act<PoolContext>((a: A): Effect => {
  const id = (a.event as { requestId?: unknown }).requestId;
  if (typeof id !== 'string') return {};
  const { [id]: _gone, ...leases } = a.context.leases;
  const emit: AnyEventObject[] = [];
  return { context: settle({ ...a.context, leases, queue: a.context.queue.filter((r) => r.requestId !== id) }, a.now, emit), emit };
});

/** The timer: expired requests fail (retryable), expired leases are revoked, and freed slots go to the next in line. */
const sweep = act<PoolContext>((a: A): Effect => {
  const emit: AnyEventObject[] = [];
  const queue = a.context.queue.filter((r) => {
    if (r.deadline === undefined || r.deadline > a.now) return true;
    const error = toPlainError(new RetryableError(`no slot of the pool within ${r.deadline - r.enqueuedAt} ms`, { type: 'PoolDeadline' }));
    emit.push(tell(r.replyTo, { type: 'pool.expired', requestId: r.requestId, error }));
    return false;
  });
  const leases: Record<string, PoolLease> = {};
  for (const lease of Object.values(a.context.leases)) {
    if (lease.leaseUntil > a.now) leases[lease.requestId] = lease;
    else emit.push(tell(lease.replyTo, { type: 'pool.revoked', requestId: lease.requestId }));
  }
  return { context: settle({ ...a.context, queue, leases }, a.now, emit), emit };
});

const status = act<PoolContext>((a: A): Effect => ({
  emit: [{ type: REPLY_EMITTED, payload: { capacity: a.context.capacity, holders: Object.values(a.context.leases), queue: a.context.queue } satisfies PoolStatus }],
}));

export type PoolEvent = PoolCommand | TimerEvent;

/**
 * @example
 * system.spawn(system.register('gpu', pool), { id: 'gpu', input: { capacity: 1, leaseMs: 120_000 } });
 * // from a machine: tellTo('support/gpu', { type: 'pool.acquire', requestId, replyTo: self, deadlineMs: 30_000 }),
 * // then wait for pool.granted, do the work, and tellTo('support/gpu', { type: 'pool.release', requestId }).
 */
const chart = dueTimerChart(TICK, sweep);

export const pool = setup({
  types: {} as { context: PoolContext; input: PoolInput; events: PoolEvent; emitted: AnyEventObject },
  delays: chart.delays,
  guards: chart.guards,
}).createMachine({
  id: 'pool',
  context: ({ input }) => {
    if (!Number.isInteger(input?.capacity) || input.capacity < 1) throw new InvalidConfigError('pool.capacity', 'must be an integer >= 1');
    return { capacity: input.capacity, agingMs: input.agingMs ?? DEFAULT_POOL_AGING_MS, leaseMs: input.leaseMs ?? DEFAULT_POOL_LEASE_MS, queue: [], leases: {}, timers: {} };
  },
  initial: 'route',
  on: {
    'pool.acquire': { target: '.route', actions: acquire },
    'pool.release': { target: '.route', actions: free },
    'pool.cancel': { target: '.route', actions: free },
    'pool.status': { actions: status },
  },
  states: chart.states,
});
