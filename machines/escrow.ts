/**
 * The escrow (issue 3): the human queue. Escalated steps put items in it; a person approves (optionally with an
 * edited output), rejects, or asks for a retry — from the inspector, the CLI or the API — and the decision is told
 * to the waiting workflow (`escrow.approved` / `escrow.rejected` / `escrow.retry`, addressed by `item.replyTo`).
 *
 * Each item has an SLA deadline by its tier (5 minutes `customer-facing`, 30 minutes `internal` by default). A
 * breached SLA raises the item to the next escalation level (e.g. operator -> team lead -> manager), records the
 * breach on the item and in the workflow's trace, tells the workflow (`escrow.escalated`) and, when configured,
 * a notify address. The nearest deadline is kept in `context.timers` so a restored escrow keeps it.
 *
 *   idle --escrow.submit--> waiting --(sla)--> waiting (breaches recorded) --last item decided--> idle
 */
import { setup, type AnyEventObject } from 'xstate';
import { toPlainError, UnknownEscrowItemError } from '../src/errors.js';
import type { GaugeReading } from '../src/observability/gauges.js';
import type {
  EscrowBreachedEvent,
  EscrowCommand,
  EscrowDecisionEvent,
  EscrowItem,
  EscrowNotice,
  EscrowOutcome,
  EscrowReceipt,
  EscrowSubmitEvent,
} from '../src/escrow-protocol.js';
import { REPLY_EMITTED, TELL_EMITTED } from './emit.js';
import { isTimerFor, remainingMs, withTimer, type TimerEvent, type Timers } from './timers.js';
import { traceEvent } from './trace.js';
import { act, type ReducerArgs } from './workflow-context.js';

export const DEFAULT_SLA_MS: Readonly<Record<string, number>> = Object.freeze({ 'customer-facing': 5 * 60_000, internal: 30 * 60_000 });
export const DEFAULT_LEVELS: readonly string[] = Object.freeze(['operator', 'team-lead', 'manager']);

export interface EscrowInput {
  /** SLA per tier, ms; merged over the defaults. Unknown tiers get the `internal` SLA. */
  readonly slaMs?: Readonly<Record<string, number>>;
  /** Escalation levels, lowest first; a breach moves an item one level up (it stays at the top level). */
  readonly levels?: readonly string[];
  /** Address told `{ type: 'escrow.breached', item }` on every breach (a pager, a chat channel agent...). */
  readonly notify?: string;
}

export type {
  EscrowSubmission,
  EscrowItem,
  EscrowCommand,
  EscrowSubmitEvent,
  EscrowDecisionEvent,
  EscrowListEvent,
  EscrowReceipt,
  EscrowOutcome,
  EscrowNotice,
  EscrowBreachedEvent,
} from '../src/escrow-protocol.js';

export interface EscrowContext {
  readonly items: Readonly<Record<string, EscrowItem>>;
  readonly slaMs: Readonly<Record<string, number>>;
  readonly levels: readonly string[];
  readonly notify: string | undefined;
  readonly timers: Timers;
}

type A = ReducerArgs<EscrowContext>;
const SLA = 'escrow:sla';

function withItems(a: A, items: Record<string, EscrowItem>) {
  const next = Object.values(items).reduce((min, item) => Math.min(min, item.dueAt), Infinity);
  return { items, timers: next === Infinity ? {} : withTimer({}, SLA, 'sla', next) };
}

/** What the escrow machine handles: its commands and, after a restore, its due SLA timer. */
export type EscrowEvent = EscrowCommand | TimerEvent;

const submit = act<EscrowContext>((a) => {
  const event = a.event as Partial<EscrowSubmitEvent>;
  const s = event.item;
  // A step asks (its `replyTo` says so) and is answered with a receipt, so one that reaches no escrow fails loudly.
  const receipt = typeof event.replyTo === 'string' && typeof s?.id === 'string'
    ? [{ type: REPLY_EMITTED, payload: { queued: s.id } }] : [];
  // Submissions are at-least-once (a restored step may submit again): the first one wins.
  if (s === undefined || typeof s.id !== 'string' || s.id in a.context.items) return { emit: receipt };
  const tier = s.tier ?? 'internal';
  const sla = a.context.slaMs[tier] ?? a.context.slaMs['internal'] ?? (DEFAULT_SLA_MS['internal'] as number);
  const item: EscrowItem = { ...s, tier, level: 0, submittedAt: a.now, dueAt: a.now + sla, breaches: [] };
  return {
    context: withItems(a, { ...a.context.items, [s.id]: item }),
    emit: [traceEvent({ workflowId: s.workflowId, kind: 'escrow', step: s.stepId, attempt: 0, from: 'submitted', to: a.context.levels[0] ?? 'level-0', outcome: 'queued', at: a.now, detail: { itemId: s.id, tier, dueAt: item.dueAt } }), ...receipt],
  };
});

/** The answer to a decision asked with `receipt: true` (none for a plain tell: there is no ask to answer). */
function receiptFor(event: Partial<EscrowDecisionEvent>, receipt: EscrowReceipt): AnyEventObject[] {
  return event.receipt === true ? [{ type: REPLY_EMITTED, payload: receipt }] : [];
}

function notice(decision: EscrowOutcome, item: EscrowItem, event: Partial<EscrowDecisionEvent>): EscrowNotice {
  const by = event.by === undefined ? {} : { by: event.by };
  if (decision === 'approved') return { type: 'escrow.approved', itemId: item.id, ...by, ...('output' in event ? { output: event.output } : {}) };
  if (decision === 'rejected') return { type: 'escrow.rejected', itemId: item.id, ...by, ...('reason' in event && event.reason !== undefined ? { reason: event.reason } : {}) };
  return { type: 'escrow.retry', itemId: item.id, ...by };
}

function decide(decision: EscrowOutcome) {
  return act<EscrowContext>((a) => {
    const event = a.event as Partial<EscrowDecisionEvent>;
    const item = typeof event.itemId === 'string' && Object.hasOwn(a.context.items, event.itemId) ? a.context.items[event.itemId] : undefined;
    if (item === undefined) {
      // Unknown (never submitted, already decided, mistyped): an asked decision learns it; a tell changes nothing.
      const itemId = String(event.itemId);
      return { emit: receiptFor(event, { ok: false, itemId, error: toPlainError(new UnknownEscrowItemError(a.self ?? 'escrow', itemId)) }) };
    }
    const { [item.id]: _decided, ...rest } = a.context.items;
    return {
      context: withItems(a, rest),
      emit: [
        traceEvent({ workflowId: item.workflowId, kind: 'escrow', step: item.stepId, attempt: 0, from: a.context.levels[item.level] ?? '', to: decision, outcome: decision, at: a.now, startedAt: item.submittedAt, detail: { itemId: item.id, by: event.by, edited: 'output' in event } }),
        { type: TELL_EMITTED, to: item.replyTo, event: JSON.parse(JSON.stringify(notice(decision, item, event))) as EscrowNotice },
        ...receiptFor(event, { ok: true, itemId: item.id, outcome: decision }),
      ],
    };
  });
}

const breach = act<EscrowContext>((a) => {
  const items: Record<string, EscrowItem> = { ...a.context.items };
  const emit: AnyEventObject[] = [];
  const top = Math.max(0, a.context.levels.length - 1);
  for (const item of Object.values(a.context.items)) {
    if (item.dueAt > a.now) continue;
    const level = Math.min(item.level + 1, top);
    const fromLevel = a.context.levels[item.level] ?? `level-${item.level}`;
    const toLevel = a.context.levels[level] ?? `level-${level}`;
    const sla = a.context.slaMs[item.tier] ?? a.context.slaMs['internal'] ?? (DEFAULT_SLA_MS['internal'] as number);
    const next: EscrowItem = { ...item, level, dueAt: a.now + sla, breaches: [...item.breaches, { at: a.now, fromLevel, toLevel }] };
    items[item.id] = next;
    emit.push(traceEvent({ workflowId: item.workflowId, kind: 'escrow', step: item.stepId, attempt: 0, from: fromLevel, to: toLevel, outcome: 'sla-breached', at: a.now, startedAt: item.submittedAt, detail: { itemId: item.id, tier: item.tier, dueAt: item.dueAt } }));
    const escalated: EscrowNotice = { type: 'escrow.escalated', itemId: item.id, level, levelName: toLevel };
    emit.push({ type: TELL_EMITTED, to: item.replyTo, event: escalated });
    if (a.context.notify !== undefined) {
      const breached: EscrowBreachedEvent = { type: 'escrow.breached', item: JSON.parse(JSON.stringify(next)) as EscrowItem };
      emit.push({ type: TELL_EMITTED, to: a.context.notify, event: breached });
    }
  }
  return { context: withItems(a, items), emit };
});

const list = act<EscrowContext>((a) => ({ emit: [{ type: REPLY_EMITTED, payload: Object.values(a.context.items) satisfies EscrowItem[] }] }));

const decisions = {
  'escrow.approve': { target: 'waiting', reenter: true, actions: decide('approved') },
  'escrow.reject': { target: 'waiting', reenter: true, actions: decide('rejected') },
  'escrow.retry': { target: 'waiting', reenter: true, actions: decide('retry') },
} as const;

const escrowMachine = setup({
  types: {} as { context: EscrowContext; input: EscrowInput | undefined; events: EscrowEvent; emitted: AnyEventObject },
  delays: { [SLA]: ({ context, system }: { context: EscrowContext; system: unknown }) => remainingMs(context.timers, SLA, system) },
  guards: {
    empty: ({ context }) => Object.keys(context.items).length === 0,
    slaTimer: ({ context, event }) => isTimerFor(context.timers, event, SLA),
  },
}).createMachine({
  id: 'escrow',
  context: ({ input }) => ({
    items: {},
    slaMs: { ...DEFAULT_SLA_MS, ...input?.slaMs },
    levels: input?.levels ?? DEFAULT_LEVELS,
    notify: input?.notify,
    timers: {},
  }),
  initial: 'idle',
  on: {
    'escrow.list': { actions: list },
    // Idle holds no items: a decision there is for an unknown item, and an asked one is answered so.
    'escrow.approve': { actions: decide('approved') },
    'escrow.reject': { actions: decide('rejected') },
    'escrow.retry': { actions: decide('retry') },
  },
  states: {
    idle: { on: { 'escrow.submit': { target: 'waiting', actions: submit } } },
    waiting: {
      always: { guard: 'empty', target: 'idle' },
      after: { [SLA]: { target: 'waiting', reenter: true, actions: breach } },
      on: {
        'escrow.submit': { target: 'waiting', reenter: true, actions: submit },
        'troupe.timer': { guard: 'slaTimer', target: 'waiting', reenter: true, actions: breach },
        ...decisions,
      },
    },
  },
});

/**
 * @example
 * system.register('escrow', escrow);
 * system.spawn('escrow', { id: 'escrow', input: { slaMs: { 'customer-facing': 300_000 }, notify: 'support/pager' } });
 * await system.escrow('support/escrow').approve(itemId, { by: 'ana', output: editedReply }); // typed, with a receipt
 */
export const escrow = Object.assign(escrowMachine, {
  /** Metrics (issue 12): `troupe.escrow.items` waiting, by tier and level (one reading per item: the runtime sums them). */
  troupeGauges: (snapshot: unknown): readonly GaugeReading[] => {
    const context = (snapshot as { context?: EscrowContext }).context;
    if (context === undefined || typeof context.items !== 'object') return [];
    return Object.values(context.items).map((item) => ({
      name: 'troupe.escrow.items', labels: { tier: item.tier, level: context.levels[item.level] ?? String(item.level) }, value: 1,
    }));
  },
});
