/**
 * Debounce and throttle by key (issue 11, flow control), as an actor in front of another actor: events for a key
 * are held and forwarded to `target` (a tell), so a burst becomes one message or a steady trickle.
 *
 * - `mode: 'debounce'` (default): the last event of a key goes out once the key has been quiet for `waitMs` — and at
 *   the latest `maxWaitMs` after the first held one, so a key that never goes quiet still gets through.
 * - `mode: 'throttle'`: a key's first event goes out at once, then at most one per `waitMs`; the last event seen
 *   meanwhile goes out when the period ends (none are queued up: only the latest matters).
 *
 *   -> flow.event { key, event }        forwarded later as `event` to `target`
 *   -> flow.status (ask)                 the keys held and their due times
 *
 * Due times are durable timers (`context.timers`), so a restored actor forwards what it held.
 */
import { setup, type AnyEventObject } from 'xstate';
import { InvalidConfigError } from '../src/errors.js';
import { REPLY_EMITTED, TELL_EMITTED } from './emit.js';
import { dueTimerChart, earliestTimer, type TimerEvent, type Timers } from './timers.js';
import { act, type ReducerArgs } from './workflow-context.js';

export interface FlowInput {
  /** Where events are forwarded. */
  readonly target: string;
  readonly waitMs: number;
  readonly mode?: 'debounce' | 'throttle';
  /** Debounce: forward at the latest this long after a key's first held event (default: no limit). */
  readonly maxWaitMs?: number;
}

/** A key's held event and when it goes out. */
export interface FlowHeld {
  readonly event: AnyEventObject | undefined;
  /** When the held event goes out (debounce), or when the key's period ends (throttle). */
  readonly dueAt: number;
  readonly firstAt: number;
}

export interface FlowContext {
  readonly target: string;
  readonly waitMs: number;
  readonly mode: 'debounce' | 'throttle';
  readonly maxWaitMs: number | undefined;
  readonly held: Readonly<Record<string, FlowHeld>>;
  /** Events forwarded, and events replaced by a later one of their key before they went out. */
  readonly forwarded: number;
  readonly coalesced: number;
  readonly timers: Timers;
}

export type FlowEvent = { readonly type: 'flow.event'; readonly key: string; readonly event: AnyEventObject } | { readonly type: 'flow.status' } | TimerEvent;

type A = ReducerArgs<FlowContext>;
type Effect = { context?: Partial<FlowContext>; emit?: AnyEventObject[] };
const TICK = 'flow:tick';

const tell = (to: string, event: AnyEventObject): AnyEventObject => ({ type: TELL_EMITTED, to, event });

const arm = (held: Readonly<Record<string, FlowHeld>>): Timers => earliestTimer(TICK, 'flow', held);

const receive = act<FlowContext>((a: A): Effect => {
  const e = a.event as { key?: unknown; event?: { type?: unknown } };
  if (typeof e.key !== 'string' || typeof e.event?.type !== 'string') return {};
  const c = a.context;
  const event = e.event as AnyEventObject;
  const prev = c.held[e.key];
  const held = { ...c.held };
  if (c.mode === 'throttle') {
    if (prev === undefined) {
      // Open period: out at once, and the key is closed for waitMs.
      held[e.key] = { event: undefined, dueAt: a.now + c.waitMs, firstAt: a.now };
      return { context: { held, forwarded: c.forwarded + 1, timers: arm(held) }, emit: [tell(c.target, event)] };
    }
    held[e.key] = { ...prev, event };
    return { context: { held, coalesced: c.coalesced + (prev.event ? 1 : 0), timers: arm(held) } };
  }
  const firstAt = prev?.firstAt ?? a.now;
  const quietAt = a.now + c.waitMs;
  held[e.key] = { event, firstAt, dueAt: c.maxWaitMs === undefined ? quietAt : Math.min(quietAt, firstAt + c.maxWaitMs) };
  return { context: { held, coalesced: c.coalesced + (prev ? 1 : 0), timers: arm(held) } };
});

/** Due keys: debounced events go out; a throttled key's period ends (its latest event, if any, goes out and opens the next). */
const due = act<FlowContext>((a: A): Effect => {
  const c = a.context;
  const held: Record<string, FlowHeld> = {};
  const emit: AnyEventObject[] = [];
  let forwarded = c.forwarded;
  for (const [key, h] of Object.entries(c.held)) {
    if (h.dueAt > a.now) {
      held[key] = h;
      continue;
    }
    if (h.event === undefined) continue; // a quiet throttle period: the key opens again
    emit.push(tell(c.target, h.event));
    forwarded++;
    if (c.mode === 'throttle') held[key] = { event: undefined, dueAt: a.now + c.waitMs, firstAt: a.now };
  }
  return { context: { held, forwarded, timers: arm(held) }, emit };
});

const status = act<FlowContext>((a: A): Effect => ({
  emit: [{ type: REPLY_EMITTED, payload: { held: Object.entries(a.context.held).map(([key, h]) => ({ key, dueAt: h.dueAt, waiting: h.event !== undefined })), forwarded: a.context.forwarded, coalesced: a.context.coalesced } }],
}));

const chart = dueTimerChart(TICK, due);

/**
 * @example
 * system.spawn(system.register('search-debounce', flowControl), { id: 'search', input: { target: 'support/indexer', waitMs: 500 } });
 * system.lookup('support/search').tell({ type: 'flow.event', key: customerId, event: { type: 'reindex', customerId } });
 */
export const flowControl = setup({
  types: {} as { context: FlowContext; input: FlowInput; events: FlowEvent; emitted: AnyEventObject },
  delays: chart.delays,
  guards: chart.guards,
}).createMachine({
  id: 'flowControl',
  context: ({ input }) => {
    if (typeof input?.target !== 'string' || input.target.length === 0) throw new InvalidConfigError('flowControl.target', 'must be an address');
    if (!Number.isInteger(input.waitMs) || input.waitMs < 1) throw new InvalidConfigError('flowControl.waitMs', 'must be an integer >= 1 (ms)');
    const mode = input.mode ?? 'debounce';
    if (mode !== 'debounce' && mode !== 'throttle') throw new InvalidConfigError('flowControl.mode', "must be 'debounce' or 'throttle'");
    if (input.maxWaitMs !== undefined && (!Number.isInteger(input.maxWaitMs) || input.maxWaitMs < input.waitMs)) throw new InvalidConfigError('flowControl.maxWaitMs', 'must be an integer >= waitMs');
    return { target: input.target, waitMs: input.waitMs, mode, maxWaitMs: input.maxWaitMs, held: {}, forwarded: 0, coalesced: 0, timers: {} };
  },
  initial: 'route',
  on: {
    'flow.event': { target: '.route', actions: receive },
    'flow.status': { actions: status },
  },
  states: chart.states,
});
