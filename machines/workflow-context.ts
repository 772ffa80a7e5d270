/**
 * The workflow's context and the one adapter through which its transitions change it: each transition's work
 * is a pure reducer `({ context, event, now }) => { context?, emit? }`, so the statechart shows every path as a
 * state while the bookkeeping (attempts, timers, trace entries, messages) stays in small testable functions.
 */
import type { AnyEventObject } from 'xstate';
import type { PlainError } from '../src/errors.js';
import type { HandoffRecord, OutputSize } from './handoff.js';
import { nowOf, type Timers } from './timers.js';

export type StepStatus =
  | 'pending' | 'summarizing' | 'checking' | 'waiting' | 'running' | 'fallback' | 'verifying' | 'retrying' | 'escalated'
  | 'done' | 'skipped' | 'failed';

export interface EscalationRecord {
  /** `${workflowId}/${stepId}/${attempt}`: the escrow item. */
  readonly itemId: string;
  readonly reason: string;
  readonly tier: string;
  /** Escalation level in the escrow (raised when its SLA is breached). */
  readonly level: number;
  readonly since: number;
}

export interface StepRecord {
  readonly status: StepStatus;
  /** Attempts started so far, over the step's whole life. */
  readonly attempt: number;
  /** The attempt count at which the current retry budget started (a person's "retry" starts a new budget). */
  readonly roundStart: number;
  /** Start of the first attempt: the base of `scheduleToCloseMs`. */
  readonly startedAt?: number;
  readonly attemptStartedAt?: number;
  /** When the pending retry is due. */
  readonly retryAt?: number;
  /** When the pending ask (breaker, verifier or summarizer agent) was sent. */
  readonly askedAt?: number;
  readonly output?: unknown;
  /** The size of the finished step's output in later handoffs (null: JSON leaves it out); see `OutputSize`. */
  readonly outputSize?: OutputSize | null;
  readonly error?: PlainError;
  readonly handoff?: HandoffRecord;
  readonly escalation?: EscalationRecord;
  /** The last output came from the step's fallback (its breaker was open). */
  readonly viaFallback?: boolean;
  /** The pools (of `uses`) that granted the current attempt its slot so far. */
  readonly granted?: readonly string[];
}

export type WorkflowStatus = 'running' | 'compensating' | 'completed' | 'aborted';

export interface WorkflowContext {
  readonly workflowId: string;
  /** Where escrow decisions and ask answers are sent back: the workflow actor's address (see `WorkflowInput`). */
  readonly address: string;
  readonly escrow: string;
  readonly input: unknown;
  readonly status: WorkflowStatus;
  readonly steps: Readonly<Record<string, StepRecord>>;
  /** Outputs of finished steps, by id: the data handoffs are made of. */
  readonly results: Readonly<Record<string, unknown>>;
  /** Compensable steps in the order they finished. */
  readonly completed: readonly string[];
  /** Compensations still to run, next first (reverse completion order). */
  readonly compensations: readonly string[];
  readonly compensated: readonly string[];
  /** Why the workflow aborted. */
  readonly cause?: { readonly stepId: string; readonly error: PlainError };
  readonly timers: Timers;
  /** PRNG state for jitter (mulberry32), seeded from input: deterministic and restored with the snapshot. */
  readonly rng: number;
}

/**
 * The explicit form of a workflow's input, for when the defaults do not fit. Without it the input is the user's
 * own input, and the run's identity comes from its actor (issue 8; the full rule is in workflow-input.ts): a plain
 * object whose keys are all among these five (with the types below) is read as this wrapper; anything else is
 * passed to the steps as `input` whole.
 *
 * @example
 * system.spawn('customer-reply', { id: 'ticket-42', input: ticket });   // workflowId `ticket-42`, address `support/ticket-42`
 * system.spawn('customer-reply', { id: 'ticket-42', input: { workflowId: 'order-7/ticket-42', escrow: 'support/services/escrow', input: ticket } });
 */
export interface WorkflowInput<TInput = unknown> {
  /**
   * The run's id; part of every idempotency key and the key of its trace. Default: the actor's id (the last `/`
   * segment of its address, e.g. `ticket-42`); for an actor created without an id, the definition's id.
   */
  readonly workflowId?: string;
  /**
   * The run's address, where answers and escrow decisions come back. Default: the actor's address (XState's
   * `self.id`, which the runtime sets to the Troupe address); for an actor created without an id, `workflowId`.
   */
  readonly address?: string;
  /** The escrow actor's address; overrides the definition's. */
  readonly escrow?: string;
  /** The user's input, passed to every step as `input`. */
  readonly input?: TInput;
  /** Jitter seed; default derived from the effective workflow id. */
  readonly seed?: number;
}

/** A step the workflow went on without (a non-critical failure, a person's rejection), with the error when one failed it. */
export interface SkippedStep {
  readonly stepId: string;
  readonly error?: PlainError;
}

export interface WorkflowOutput {
  readonly status: 'completed' | 'aborted';
  readonly results: Readonly<Record<string, unknown>>;
  readonly skipped: readonly SkippedStep[];
  readonly compensated: readonly string[];
  readonly cause?: { readonly stepId: string; readonly error: PlainError };
}

export interface ReducerArgs<C = WorkflowContext> {
  readonly context: C;
  readonly event: AnyEventObject;
  readonly now: number;
  /** The actor's id (under Troupe its address), when XState gives one. */
  readonly self?: string;
}

export interface Effect<C = WorkflowContext> {
  readonly context?: Partial<C>;
  readonly emit?: readonly AnyEventObject[];
}

export type Reducer<C = WorkflowContext> = (args: ReducerArgs<C>) => Effect<C>;

/**
 * Runs a reducer as one action: assigns its context changes, then emits its events (trace, tell, ask, reply).
 *
 * Built on XState v5's built-in action protocol (a function with `type`, `resolve` and `execute`, as `assign` and
 * `emit` are) rather than on `enqueueActions` + `assign` + `emit`, because every transition of every step runs one
 * (the hot path, issue 3 benchmark): `assign` rebuilds the whole snapshot through `createMachineSnapshot`, which
 * recomputes the state value and tags from the active nodes (Sets, Maps, a sort) although an assign changes neither;
 * here the snapshot is copied with the new context only. The events are emitted the way XState's `emit` action does
 * it (`actorScope.defer(() => actorScope.emit(event))`: in order, after the macrostep's snapshot is set), but by
 * this one action instead of one nested `emit` action per event — a step's transition emits two or three, and each
 * nested action costs a new action function, its resolution and an executor record (measurably slower, issue 8
 * benchmark). Under full inspection the events show as the params of one `troupe.act` action.
 */
// The returned action fits any machine's action slot (its own types are erased by the dynamic charts it serves).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function act<C = WorkflowContext>(reducer: Reducer<C>): any {
  // Never called: XState calls `resolve` and then `execute` for an action that has them.
  const action = function troupeAct(): void {};
  action.type = 'troupe.act';
  action.resolve = (
    _scope: unknown,
    snapshot: { context: C },
    args: { context: C; event: AnyEventObject; system: unknown; self?: { id?: unknown } },
  ): [unknown, readonly AnyEventObject[] | undefined, undefined] => {
    const self = typeof args.self?.id === 'string' ? args.self.id : undefined;
    const effect = reducer(self === undefined ? { context: args.context, event: args.event, now: nowOf(args.system) } : { context: args.context, event: args.event, now: nowOf(args.system), self });
    const next = effect.context === undefined ? snapshot : { ...snapshot, context: nextContext(snapshot.context as object, effect.context as object) };
    const emits = effect.emit;
    return [next, emits === undefined || emits.length === 0 ? undefined : emits, undefined];
  };
  action.execute = (scope: ActorScopeLike, emits: readonly AnyEventObject[] | undefined): void => {
    if (emits === undefined) return;
    scope.defer(() => {
      for (let i = 0; i < emits.length; i++) scope.emit(emits[i] as AnyEventObject);
    });
  };
  return action;
}

/** The part of XState's actor scope an action's `execute` uses (what `emit`'s own `execute` uses). */
interface ActorScopeLike {
  defer(fn: () => void): void;
  emit(event: AnyEventObject): void;
}

/** Merges two effects, the second seeing nothing of the first (callers thread context themselves). */
export function merge(a: Effect, b: Effect): Effect {
  return { context: { ...a.context, ...b.context }, emit: [...(a.emit ?? []), ...(b.emit ?? [])] };
}

/**
 * Two reducers as one: `second` sees the context `first` left; the effect carries both changes and both emits, in
 * order. For one transition that finishes one step and starts the next (step.ts, `SuccessHandoff`).
 */
export function andThen(first: Reducer, second: Reducer): Reducer {
  return (a) => {
    const one = first(a);
    const context = one.context === undefined ? a.context : nextContext(a.context, one.context);
    const two = second(a.self === undefined ? { context, event: a.event, now: a.now } : { context, event: a.event, now: a.now, self: a.self });
    const emit = one.emit === undefined ? two.emit : two.emit === undefined ? one.emit : [...one.emit, ...two.emit];
    const changes = one.context === undefined ? two.context : two.context === undefined ? one.context : patch(one.context, two.context);
    return changes === undefined ? (emit === undefined ? {} : { emit }) : emit === undefined ? { context: changes } : { context: changes, emit };
  };
}

/**
 * `{ ...base, ...changes }` for the hot path (every step transition). On Node 20 (V8 11.3) an object literal that
 * spreads and then defines a key the spread did not copy takes a slow path — about 3 µs and a fresh hidden class per
 * object, measured — while `Object.assign` into a fresh object does not (about 150 ns); the result is the same object
 * (same keys, same order). Only for objects with fixed keys (records, inputs): see `withEntry` for maps by id and
 * `nextContext` for contexts.
 */
export function patch<T extends object>(base: T, changes: Partial<T>): T {
  return Object.assign({}, base, changes);
}

/**
 * A context with `changes` applied. A context has every key a transition sets from the start (`cause` too), so the
 * spread copy keeps its hidden class and the changes only overwrite: about 50 ns against `patch`'s 150-200 (measured,
 * Node 20). A call site of its own, so that V8's copy stays specialized to the few context shapes it sees.
 */
export function nextContext<C extends object>(base: C, changes: Partial<C>): C {
  return Object.assign({ ...base }, changes);
}

/**
 * `patch` for step records, the objects every step transition replaces: one literal of one shape (every field, in one
 * order), so every record has one hidden class and is built in one allocation. A field given as `undefined` is cleared.
 */
export function patchRecord(prev: StepRecord, c: Partial<StepRecord>): StepRecord {
  return {
    status: c.status ?? prev.status,
    attempt: c.attempt ?? prev.attempt,
    roundStart: c.roundStart ?? prev.roundStart,
    startedAt: 'startedAt' in c ? c.startedAt : prev.startedAt,
    attemptStartedAt: 'attemptStartedAt' in c ? c.attemptStartedAt : prev.attemptStartedAt,
    retryAt: 'retryAt' in c ? c.retryAt : prev.retryAt,
    askedAt: 'askedAt' in c ? c.askedAt : prev.askedAt,
    output: 'output' in c ? c.output : prev.output,
    outputSize: 'outputSize' in c ? c.outputSize : prev.outputSize,
    error: 'error' in c ? c.error : prev.error,
    handoff: 'handoff' in c ? c.handoff : prev.handoff,
    escalation: 'escalation' in c ? c.escalation : prev.escalation,
    viaFallback: 'viaFallback' in c ? c.viaFallback : prev.viaFallback,
    granted: 'granted' in c ? c.granted : prev.granted,
  };
}

/**
 * `{ ...map, [key]: value }` for maps keyed by step id, without the slow path `patch` avoids. Step ids may be
 * `__proto__`, which assignment would take for the prototype: such maps keep the spread.
 */
export function withEntry<V>(map: Readonly<Record<string, V>>, key: string, value: V): Record<string, V> {
  if (key === '__proto__' || Object.prototype.hasOwnProperty.call(map, '__proto__')) return { ...map, [key]: value };
  const out: Record<string, V> = Object.assign({}, map);
  out[key] = value;
  return out;
}

export const EMPTY_STEP: StepRecord = Object.freeze(patchRecord({ status: 'pending', attempt: 0, roundStart: 0 }, {}));

export function recordOf(context: WorkflowContext, stepId: string): StepRecord {
  return context.steps[stepId] ?? EMPTY_STEP;
}
