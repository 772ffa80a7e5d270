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
 *
 * Flow control by key (a tenant, a customer, a model): a request may name a `key`; `perKey` caps the holders of one
 * key (a concurrency limit per tenant), and free slots go round robin across keys — among requests of equal (aged)
 * priority, the key served least recently goes first — so one tenant's burst does not starve the others. With
 * `perKey: 1` the pool is a singleton per key: `onKeyBusy` says what a newcomer whose key is held gets — a place in
 * the queue (`queue`, the default), an immediate non-retryable `PoolKeyBusy` (`skip`), or the slot, the old holder
 * being revoked (`replace`).
 */
import { setup, type AnyEventObject } from 'xstate';
import { InvalidConfigError, NonRetryableError, RetryableError, toPlainError, type PlainError } from '../src/errors.js';
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
  /** Holders of one key at once (a concurrency limit per tenant); default: no limit but the capacity. */
  readonly perKey?: number;
  /** A request whose key is at its `perKey` limit: waits (`queue`), fails at once (`skip`), or takes the slot (`replace`). */
  readonly onKeyBusy?: 'queue' | 'skip' | 'replace';
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
  /** Flow-control key (tenant, customer, model): counts toward `perKey`, and keys are served round robin. */
  readonly key?: string;
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
  readonly key?: string;
}
export interface PoolLease {
  readonly requestId: string;
  readonly replyTo: string;
  readonly key?: string;
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
  readonly perKey: number | undefined;
  readonly onKeyBusy: 'queue' | 'skip' | 'replace';
  /** When each key was last granted a slot (a grant counter), for round robin across keys. */
  readonly served: Readonly<Record<string, number>>;
  readonly grants: number;
  /** Waiting requests in arrival order. */
  readonly queue: readonly PoolRequest[];
  readonly leases: Readonly<Record<string, PoolLease>>;
  readonly timers: Timers;
}

type A = ReducerArgs<PoolContext>;
type Effect = { context?: Partial<PoolContext>; emit?: AnyEventObject[] };
const TICK = 'pool:tick';

const tell = (to: string, event: PoolNotice): AnyEventObject => ({ type: TELL_EMITTED, to, event });

/**
 * The request to serve next among those whose key is under its limit: the highest priority after aging; among
 * equals, the key served least recently (round robin across keys), then the earliest. -1 when none may go.
 */
function best(queue: readonly PoolRequest[], c: PoolContext, held: Readonly<Record<string, number>>, now: number): number {
  let pick = -1;
  let pickScore = -Infinity;
  let pickServed = Infinity;
  for (let i = 0; i < queue.length; i++) {
    const r = queue[i]!;
    if (r.key !== undefined && c.perKey !== undefined && (held[r.key] ?? 0) >= c.perKey) continue;
    const score = r.priority + Math.floor((now - r.enqueuedAt) / c.agingMs);
    const served = r.key === undefined ? -1 : (c.served[r.key] ?? -1);
    if (score > pickScore || (score === pickScore && served < pickServed)) {
      pick = i;
      pickScore = score;
      pickServed = served;
    }
  }
  return pick;
}

function heldByKey(leases: Readonly<Record<string, PoolLease>>): Record<string, number> {
  const held: Record<string, number> = {};
  for (const lease of Object.values(leases)) if (lease.key !== undefined) held[lease.key] = (held[lease.key] ?? 0) + 1;
  return held;
}

/** Grants free slots to the best waiting requests, then re-arms the one timer at the nearest deadline or lease end. */
function settle(c: PoolContext, now: number, emit: AnyEventObject[]): Partial<PoolContext> {
  const queue = [...c.queue];
  const leases = { ...c.leases };
  const held = heldByKey(leases);
  const served = { ...c.served };
  let grants = c.grants;
  while (Object.keys(leases).length < c.capacity && queue.length > 0) {
    const index = best(queue, { ...c, served }, held, now);
    if (index < 0) break; // every waiting key is at its limit
    const [next] = queue.splice(index, 1) as [PoolRequest];
    const lease: PoolLease = { requestId: next.requestId, replyTo: next.replyTo, grantedAt: now, leaseUntil: now + next.leaseMs, waitedMs: now - next.enqueuedAt, ...(next.key === undefined ? {} : { key: next.key }) };
    leases[next.requestId] = lease;
    if (next.key !== undefined) {
      held[next.key] = (held[next.key] ?? 0) + 1;
      served[next.key] = ++grants;
    }
    emit.push(tell(next.replyTo, { type: 'pool.granted', requestId: next.requestId, leaseUntil: lease.leaseUntil }));
  }
  let due = Infinity;
  for (const r of queue) if (r.deadline !== undefined) due = Math.min(due, r.deadline);
  for (const l of Object.values(leases)) due = Math.min(due, l.leaseUntil);
  return { queue, leases, served, grants, timers: due === Infinity ? {} : withTimer({}, TICK, 'pool', due) };
}

const acquire = act<PoolContext>((a: A): Effect => {
  const e = a.event as Partial<PoolAcquireEvent>;
  if (typeof e.requestId !== 'string' || typeof e.replyTo !== 'string') return {};
  const held = a.context.leases[e.requestId];
  if (held !== undefined) return { emit: [tell(held.replyTo, { type: 'pool.granted', requestId: held.requestId, leaseUntil: held.leaseUntil })] };
  if (a.context.queue.some((r) => r.requestId === e.requestId)) return {};
  const key = typeof e.key === 'string' ? e.key : undefined;
  const request: PoolRequest = {
    requestId: e.requestId, replyTo: e.replyTo, priority: typeof e.priority === 'number' ? e.priority : 0, enqueuedAt: a.now,
    deadline: typeof e.deadlineMs === 'number' ? a.now + e.deadlineMs : undefined, leaseMs: typeof e.leaseMs === 'number' ? e.leaseMs : a.context.leaseMs,
    ...(key === undefined ? {} : { key }),
  };
  const emit: AnyEventObject[] = [];
  let leases = a.context.leases;
  const { perKey, onKeyBusy } = a.context;
  if (key !== undefined && perKey !== undefined && onKeyBusy !== 'queue' && (heldByKey(leases)[key] ?? 0) >= perKey) {
    if (onKeyBusy === 'skip') {
      const error = toPlainError(new NonRetryableError(`key ${key} already holds ${perKey} slot(s) of the pool`, { type: 'PoolKeyBusy' }));
      return { emit: [tell(e.replyTo, { type: 'pool.expired', requestId: e.requestId, error })] };
    }
    // replace: the key's oldest holder gives its slot to the newcomer.
    const oldest = Object.values(leases).filter((l) => l.key === key).sort((x, y) => x.grantedAt - y.grantedAt)[0]!;
    const { [oldest.requestId]: _revoked, ...rest } = leases;
    leases = rest;
    emit.push(tell(oldest.replyTo, { type: 'pool.revoked', requestId: oldest.requestId }));
  }
  return { context: settle({ ...a.context, leases, queue: [...a.context.queue, request] }, a.now, emit), emit };
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
    if (input.perKey !== undefined && (!Number.isInteger(input.perKey) || input.perKey < 1)) throw new InvalidConfigError('pool.perKey', 'must be an integer >= 1');
    const onKeyBusy = input.onKeyBusy ?? 'queue';
    if (!['queue', 'skip', 'replace'].includes(onKeyBusy)) throw new InvalidConfigError('pool.onKeyBusy', "must be 'queue', 'skip' or 'replace'");
    if (onKeyBusy !== 'queue' && input.perKey === undefined) throw new InvalidConfigError('pool.onKeyBusy', 'needs perKey (the limit a key is busy at)');
    return {
      capacity: input.capacity, agingMs: input.agingMs ?? DEFAULT_POOL_AGING_MS, leaseMs: input.leaseMs ?? DEFAULT_POOL_LEASE_MS,
      perKey: input.perKey, onKeyBusy, served: {}, grants: 0, queue: [], leases: {}, timers: {},
    };
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
