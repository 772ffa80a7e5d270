/**
 * Batching of small requests by key (issue 11, flow control; Inngest's `batchEvents`), as an actor in front of
 * another actor: items are gathered per key and forwarded to `target` as one message, so a hundred one-line
 * embedding requests become a few calls. A key's batch goes out when it holds `maxSize` items, or `maxWaitMs` after
 * its first item, whichever comes first:
 *
 *   -> batch.add { item, key?, id? }     gathered; forwarded as { type: batchType, key, items: [...] } to `target`
 *   -> batch.flush { key? }              one key's batch (or every key's) goes out now
 *   -> batch.status (ask)                the open batches: key, size, due time
 *
 * An item with an `id` is taken once per open batch: a sender that delivers at least once may repeat it, and the
 * target must not see it twice in one batch. Due times are durable timers (`context.timers`), so a restored
 * batcher forwards what it held.
 */
import { setup, type AnyEventObject } from 'xstate';
import { InvalidConfigError } from '../src/errors.js';
import { REPLY_EMITTED, TELL_EMITTED } from './emit.js';
import { dueTimerChart, earliestTimer, type TimerEvent, type Timers } from './timers.js';
import { act, type ReducerArgs } from './workflow-context.js';

export const DEFAULT_BATCH_TYPE = 'batch';
/** The key of items sent without one. */
export const DEFAULT_BATCH_KEY = '';

export interface BatchInput {
  /** Where batches are forwarded. */
  readonly target: string;
  /** Items per batch at most: a batch that reaches it goes out at once. */
  readonly maxSize: number;
  /** A batch goes out at the latest this long after its first item, ms. */
  readonly maxWaitMs: number;
  /** The forwarded message's type; default `batch`. */
  readonly batchType?: string;
}

/** An open batch of one key. */
export interface OpenBatch {
  readonly items: readonly unknown[];
  /** Ids of the items that had one (an item repeated by an at-least-once sender is taken once). */
  readonly ids: readonly string[];
  readonly firstAt: number;
  readonly dueAt: number;
}

export interface BatchContext {
  readonly target: string;
  readonly maxSize: number;
  readonly maxWaitMs: number;
  readonly batchType: string;
  readonly open: Readonly<Record<string, OpenBatch>>;
  /** Batches and items forwarded, and repeated items dropped. */
  readonly batches: number;
  readonly items: number;
  readonly repeats: number;
  readonly timers: Timers;
}

export type BatchEvent =
  | { readonly type: 'batch.add'; readonly item: unknown; readonly key?: string; readonly id?: string }
  | { readonly type: 'batch.flush'; readonly key?: string }
  | { readonly type: 'batch.status' }
  | TimerEvent;

/** What the target receives. */
export interface BatchMessage {
  readonly type: string;
  readonly key: string;
  readonly items: readonly unknown[];
}

type A = ReducerArgs<BatchContext>;
type Effect = { context?: Partial<BatchContext>; emit?: AnyEventObject[] };
const TICK = 'batch:tick';

const arm = (open: Readonly<Record<string, OpenBatch>>): Timers => earliestTimer(TICK, 'batch', open);

/** Forwards the batches of `keys` and closes them. */
function send(c: BatchContext, keys: readonly string[]): Effect {
  const open = { ...c.open };
  const emit: AnyEventObject[] = [];
  let items = c.items;
  for (const key of keys) {
    const batch = open[key];
    if (batch === undefined) continue;
    delete open[key];
    const message: BatchMessage = { type: c.batchType, key, items: batch.items };
    emit.push({ type: TELL_EMITTED, to: c.target, event: message });
    items += batch.items.length;
  }
  return { context: { open, batches: c.batches + emit.length, items, timers: arm(open) }, emit };
}

const add = act<BatchContext>((a: A): Effect => {
  const e = a.event as { item?: unknown; key?: unknown; id?: unknown };
  if (!('item' in e)) return {};
  const c = a.context;
  const key = typeof e.key === 'string' ? e.key : DEFAULT_BATCH_KEY;
  const id = typeof e.id === 'string' ? e.id : undefined;
  const prev = c.open[key];
  if (id !== undefined && prev?.ids.includes(id)) return { context: { repeats: c.repeats + 1 } };
  const batch: OpenBatch = prev === undefined
    ? { items: [e.item], ids: id === undefined ? [] : [id], firstAt: a.now, dueAt: a.now + c.maxWaitMs }
    : { ...prev, items: [...prev.items, e.item], ids: id === undefined ? prev.ids : [...prev.ids, id] };
  const open = { ...c.open, [key]: batch };
  if (batch.items.length >= c.maxSize) return send({ ...c, open }, [key]);
  return { context: { open, timers: arm(open) } };
});

const flush = act<BatchContext>((a: A): Effect => {
  const key = (a.event as { key?: unknown }).key;
  return send(a.context, typeof key === 'string' ? [key] : Object.keys(a.context.open));
});

const due = act<BatchContext>((a: A): Effect => send(a.context, Object.entries(a.context.open).filter(([, b]) => b.dueAt <= a.now).map(([key]) => key)));

const status = act<BatchContext>((a: A): Effect => ({
  emit: [{
    type: REPLY_EMITTED,
    payload: {
      open: Object.entries(a.context.open).map(([key, b]) => ({ key, size: b.items.length, dueAt: b.dueAt })),
      batches: a.context.batches, items: a.context.items, repeats: a.context.repeats,
    },
  }],
}));

const chart = dueTimerChart(TICK, due);

/**
 * @example
 * system.spawn(system.register('embed-batcher', batcher), { id: 'embed-batch', input: { target: 'support/embedder', maxSize: 64, maxWaitMs: 200 } });
 * system.lookup('support/embed-batch').tell({ type: 'batch.add', key: model, id: docId, item: { docId, text } });
 * // support/embedder receives { type: 'batch', key: model, items: [{ docId, text }, ...] }
 */
export const batcher = setup({
  types: {} as { context: BatchContext; input: BatchInput; events: BatchEvent; emitted: AnyEventObject },
  delays: chart.delays,
  guards: chart.guards,
}).createMachine({
  id: 'batcher',
  context: ({ input }) => {
    if (typeof input?.target !== 'string' || input.target.length === 0) throw new InvalidConfigError('batcher.target', 'must be an address');
    if (!Number.isInteger(input.maxSize) || input.maxSize < 1) throw new InvalidConfigError('batcher.maxSize', 'must be an integer >= 1');
    if (!Number.isInteger(input.maxWaitMs) || input.maxWaitMs < 1) throw new InvalidConfigError('batcher.maxWaitMs', 'must be an integer >= 1 (ms)');
    if (input.batchType !== undefined && !(typeof input.batchType === 'string' && input.batchType.length > 0)) throw new InvalidConfigError('batcher.batchType', 'must be a non-empty event type');
    return {
      target: input.target, maxSize: input.maxSize, maxWaitMs: input.maxWaitMs, batchType: input.batchType ?? DEFAULT_BATCH_TYPE,
      open: {}, batches: 0, items: 0, repeats: 0, timers: {},
    };
  },
  initial: 'route',
  on: {
    'batch.add': { target: '.route', actions: add },
    'batch.flush': { target: '.route', actions: flush },
    'batch.status': { actions: status },
  },
  states: chart.states,
});
