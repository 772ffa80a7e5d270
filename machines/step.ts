/**
 * The step statechart (issue 3), compiled into the workflow machine as one compound state per step:
 *
 *   (pending) -> [summarizing] -> [checking] -> running -> [verifying] -> done
 *   running -> retrying (after backoff) -> running;  checking -> fallback (breaker open)
 *   -> escalated (a person decides) -> running | done | skipped | abort;  failed -> critical ? abort : skipped
 *
 * Every transition first runs a reducer (step-reducers.ts) that decides the next status, then passes through the
 * transient `route` state, which takes the transition to that status — so each path is a real state an inspector
 * can show, with no hidden loop inside a promise. Deadlines are named `after` delays whose due times are also in
 * `context.timers` (see timers.ts), so a restored workflow keeps them.
 */
import { fromPromise, type AnyActorLogic, type AnyActorRef, type AnyEventObject } from 'xstate';
import { InvalidConfigError, toPlainError, type PlainError } from '../src/errors.js';
import type { AttemptNote, VerifyResult } from './definition.js';
import { compensationOf } from './definition.js';
import { handoffContext, handoffData } from './handoff.js';
import { actorName, answerType, idempotencyKey, noteType, timerKey, type StepEnv } from './step-env.js';
import * as h from './handoff-reducers.js';
import * as r from './step-reducers.js';
import { taskState, taskStopped, type TaskSpec } from './task.js';
import { isTimerFor, remainingMs, TIMER_EVENT, type Timers } from './timers.js';
import { act, andThen, recordOf, type ReducerArgs, type StepStatus, type WorkflowContext } from './workflow-context.js';

type StateConfig = Record<string, unknown>;
type Args = { context: WorkflowContext; event: AnyEventObject };
export type DelayFn = (args: { context: WorkflowContext; system: unknown }) => number;

const toRoute = (reducer: (a: ReducerArgs) => unknown) => ({ target: 'route', actions: act(reducer as never) });

/**
 * The compound state of one step (or compensation), plus the actors and delays it names. `initial: 'pending'` is a
 * workflow step (its entry prepares the handoff and starts the first attempt); `'route'` is a compensation, whose
 * first attempt its caller starts.
 */
export function stepState(env: StepEnv, options: { initial: 'pending' | 'route'; abortTarget: string; success?: SuccessHandoff }): {
  state: StateConfig;
  actors: Record<string, AnyActorLogic>;
  delays: Record<string, DelayFn>;
  tasks: TaskSpec<WorkflowContext>[];
} {
  const is = (status: StepStatus) => ({ context }: Args) => recordOf(context, env.id).status === status;
  // The task of each state that runs one, by the state's config (armTimers adds to the same objects).
  const tasks = new Map<StateConfig, TaskSpec<WorkflowContext>>();
  const task: TaskStateOf = (spec, onDone, onError, on) => {
    const state = taskState(spec, onDone, onError, on);
    tasks.set(state, spec);
    return state;
  };
  const states: Record<string, StateConfig> = {
    route: {},
    summarizing: summarizingState(env, task),
    checking: { on: { [answerType.breaker(env.id)]: toRoute(r.permitted(env)) } },
    // The slots of the pools the step `uses` (issue 11): granted one by one, or a pool's deadline fails the attempt.
    waiting: {
      on: {
        'pool.granted': { guard: forPoolRequest(env), ...toRoute(r.granted(env)) },
        'pool.expired': { guard: forPoolRequest(env), ...toRoute(r.poolFailed(env)) },
      },
    },
    running: task({ key: `run:${env.id}`, src: env.src, input: attemptInput(env), recoverable: true }, succeededTransition(env, options.success), toRoute(onError(env, true)), {
      ...noteHandler(env),
      // A lease that ran out under a running attempt: recorded; the attempt goes on (its pool has moved on).
      ...(env.uses.length > 0 ? { 'pool.revoked': { guard: forPoolRequest(env), actions: act(r.leaseRevoked(env)) } } : {}),
    }),
    fallback: typeof env.fallback === 'string'
      ? { on: { [answerType.fallback(env.id)]: toRoute(answered(env, (output) => r.succeeded(env, output))) } }
      : task({ key: `fallback:${env.id}`, src: actorName.fallback(env.id), input: attemptInput(env), recoverable: false }, toRoute(r.succeeded(env)), toRoute(onError(env, false)), noteHandler(env)),
    verifying: verifyingState(env, task),
    retrying: {},
    escalated: {
      on: {
        'escrow.approved': { guard: forItem(env), ...toRoute(r.decided(env, 'approved')) },
        'escrow.rejected': { guard: forItem(env), ...toRoute(r.decided(env, 'rejected')) },
        'escrow.retry': { guard: forItem(env), ...toRoute(r.decided(env, 'retry')) },
        'escrow.escalated': { guard: forItem(env), actions: act(r.breached(env)) },
        // The escrow's receipt: queued, nothing to do; not delivered (no escrow there, a timeout), the step fails.
        [answerType.escrow(env.id)]: { guard: ({ event }: Args) => (event as { ok?: boolean }).ok !== true, ...toRoute(r.escrowUnreachable(env)) },
      },
    },
    done: { type: 'final' },
    skipped: { type: 'final' },
  };
  // Unreachable states are left out, so the chart shows only this step's real paths (and stays small).
  const unused = env.kind === 'compensation' ? ['summarizing', 'checking', 'waiting', 'fallback', 'verifying'] : [
    ...(env.summarizer === undefined ? ['summarizing'] : []), ...(env.breaker === undefined ? ['checking'] : []), ...(env.uses.length === 0 ? ['waiting'] : []),
    ...(env.fallback === undefined ? ['fallback'] : []), ...(env.verify === undefined ? ['verifying'] : []),
  ];
  for (const name of unused) delete states[name];
  states['route'] = {
    always: [
      ...Object.keys(states).filter((name) => name !== 'route').map((status) => ({ guard: is(status as StepStatus), target: status })),
      { guard: is('failed'), target: options.abortTarget },
    ],
  };
  const delays = armTimers(env, states);
  // The tasks of the states left out are not run.
  const kept = Object.values(states).flatMap((state) => tasks.get(state) ?? []);
  if (options.initial === 'route') return { state: { initial: 'route', states }, actors: actorsOf(env), delays, tasks: kept };
  // pending: the step's initial transition measures the handoff and starts the first attempt. When only `running`
  // can follow (a direct step) the step starts there: one microstep less per step on the hot path. It is the initial
  // transition's action, not an entry action, so the step before can enter `running` itself having prepared this
  // step in its own transition (see `SuccessHandoff`), and the prepare is not run twice.
  return { state: { initial: { target: startsDirectly(env) ? 'running' : 'route', actions: act(h.prepare(env)) }, states }, actors: actorsOf(env), delays, tasks: kept };
}

/** A step with no summarizer and no breaker can only start by running its first attempt. */
export function startsDirectly(env: StepEnv): boolean {
  return env.kind === 'step' && env.summarizer === undefined && env.breaker === undefined && env.uses.length === 0;
}

/**
 * Where a step that succeeded goes: past its final `done` state to the next item of its sequence (`target`, an id
 * reference). When that item is a direct step (`next`), the transition enters the next step's `running` state and
 * prepares it in the same action — one action and one context copy per step instead of two (the hot path, issue 8
 * benchmark).
 */
export interface SuccessHandoff {
  readonly target: string;
  readonly next?: StepEnv;
}

/**
 * Without a verifier or a confidence threshold, a finished attempt can only complete the step: go straight to
 * `done`, or past it to the next item of the sequence — the step's status is `done` either way.
 */
function succeededTransition(env: StepEnv, success: SuccessHandoff | undefined) {
  if (env.verify !== undefined || env.minConfidence !== undefined) return toRoute(r.succeeded(env));
  if (success === undefined) return { target: 'done', actions: act(r.succeeded(env)) };
  if (success.next === undefined) return { target: success.target, actions: act(r.succeeded(env)) };
  return { target: `${success.target}.running`, actions: act(andThen(r.succeeded(env), h.prepare(success.next))) };
}

function onError(env: StepEnv, report: boolean) {
  return (a: ReducerArgs) => r.failed(env, toPlainError((a.event as { error?: unknown }).error), report)(a);
}

/** A pool notice for the current attempt of this step (a late one of an earlier attempt is not). */
function forPoolRequest(env: StepEnv) {
  return ({ context, event }: Args) => r.poolIndexOf(env, context.workflowId, recordOf(context, env.id).attempt, (event as { requestId?: unknown }).requestId) !== undefined;
}

/** Records the current attempt's progress notes; a late note of an earlier attempt records nothing. */
function noteHandler(env: StepEnv) {
  const guard = ({ context, event }: Args) => (event as { attempt?: unknown }).attempt === recordOf(context, env.id).attempt;
  return { [noteType(env.id)]: { guard, actions: act(r.noted(env)) } };
}

function forItem(env: StepEnv) {
  return ({ context, event }: Args) => (event as { itemId?: unknown }).itemId === recordOf(context, env.id).escalation?.itemId;
}

function attemptInput(env: StepEnv) {
  return (context: WorkflowContext) => {
    const rec = recordOf(context, env.id);
    const base = {
      input: context.input, context: handoffContext(rec.handoff, env.from, context.results), idempotencyKey: idempotencyKey(context.workflowId, env),
      attempt: rec.attempt, workflowId: context.workflowId, stepId: env.origin,
    };
    return env.kind === 'compensation' ? Object.assign({}, base, { output: context.results[env.origin] }) : base;
  };
}

/** A state running a task: its spec, its result's transitions, and the state's other handlers. */
type TaskStateOf = (spec: TaskSpec<WorkflowContext>, onDone: unknown, onError: unknown, on?: StateConfig) => StateConfig;

function summarizingState(env: StepEnv, task: TaskStateOf): StateConfig {
  const summarizer = env.summarizer;
  if (typeof summarizer === 'string') {
    return { on: { [answerType.summary(env.id)]: toRoute(answered(env, (payload) => h.summarized(env, payload))) } };
  }
  const input = (context: WorkflowContext) => {
    const data = handoffData(env.from, context.results);
    const text = JSON.stringify(data);
    return { text, data, budget: env.budget, tokens: env.tokenizer(text), workflowId: context.workflowId, stepId: env.id };
  };
  return task(
    { key: `summarize:${env.id}`, src: actorName.summarize, input, recoverable: false },
    toRoute((a) => h.summarized(env, (a.event as { output?: unknown }).output)(a)),
    toRoute(onError(env, false)),
  );
}

function verifyingState(env: StepEnv, task: TaskStateOf): StateConfig {
  if (typeof env.verify === 'string') {
    return { on: { [answerType.verify(env.id)]: toRoute(answered(env, (payload) => r.verified(env, verdictOf(payload)))) } };
  }
  const attempt = attemptInput(env);
  return task(
    { key: `verify:${env.id}`, src: actorName.verify(env.id), input: (context) => ({ ...attempt(context), output: recordOf(context, env.id).output }), recoverable: false },
    toRoute((a) => r.verified(env, verdictOf((a.event as { output?: unknown }).output))(a)),
    // A verifier that cannot decide is a reason for a person to look, not for guessing.
    toRoute((a) => r.escalate(env, a, 'verifier-error', toPlainError((a.event as { error?: unknown }).error))),
    noteHandler(env),
  );
}

/** An `askTo` answer: `{ ok: true, payload }` goes to `onPayload`, `{ ok: false, error }` counts as a failed attempt. */
function answered(env: StepEnv, onPayload: (payload: unknown) => (a: ReducerArgs) => unknown) {
  return (a: ReducerArgs) => {
    const answer = a.event as { ok?: boolean; payload?: unknown; error?: PlainError };
    if (answer.ok === true) return onPayload(answer.payload)(a);
    return r.failed(env, answer.error ?? toPlainError(new Error('ask failed')), false)(a);
  };
}

export function verdictOf(value: unknown): { ok: boolean; reason?: string } {
  if (value === true) return { ok: true };
  const v = value as VerifyResult | null | undefined;
  if (typeof v === 'object' && v !== null && typeof v.ok === 'boolean') return { ok: v.ok, reason: v.reason };
  return { ok: false, reason: `verifier returned ${JSON.stringify(value)}` };
}

/** Adds each deadline as a named `after` delay plus a `troupe.timer` handler for its restored firing. */
function armTimers(env: StepEnv, states: Record<string, StateConfig>): Record<string, DelayFn> {
  const delays: Record<string, DelayFn> = {};
  const arm = (stateName: string, key: string, reducer: (a: ReducerArgs) => unknown) => {
    const state = states[stateName];
    if (state === undefined) return;
    delays[key] = ({ context, system }) => remainingMs(context.timers, key, system as never);
    state['after'] = { ...(state['after'] as object), [key]: toRoute(reducer) };
    const handlers = (state['on'] as Record<string, unknown[]> | undefined) ?? {};
    const guard = ({ context, event }: Args) => isTimerFor(context.timers as Timers, event, key) && (event as { key?: string }).key === key;
    state['on'] = { ...handlers, [TIMER_EVENT]: [...(handlers[TIMER_EVENT] ?? []), { guard, ...toRoute(reducer) }] };
  };
  arm('retrying', timerKey.retry(env.id), (a) => r.begin(env, a));
  if (env.startToCloseMs !== undefined) arm('running', timerKey.startToClose(env.id), r.timedOut(env, 'startToClose'));
  if (env.scheduleToCloseMs !== undefined) {
    for (const s of ['checking', 'waiting', 'running', 'fallback', 'verifying', 'retrying']) arm(s, timerKey.scheduleToClose(env.id), r.timedOut(env, 'scheduleToClose'));
  }
  const asking = [
    ...(env.breaker !== undefined ? ['checking'] : []), ...(typeof env.verify === 'string' ? ['verifying'] : []),
    ...(typeof env.summarizer === 'string' ? ['summarizing'] : []), ...(typeof env.fallback === 'string' ? ['fallback'] : []),
  ];
  for (const s of asking) arm(s, timerKey.ask(env.id), r.timedOut(env, 'ask'));
  return delays;
}

type AttemptFn = (args: never) => unknown;

/**
 * An attempt's function as promise logic, run as its state's task (task.ts): it receives its input plus the
 * attempt's `signal` and `note` (added here, not in the input, which a snapshot keeps). `note` sends the workflow a
 * `noteType` event, while the attempt's state is active. `signal` is made when the function reads it.
 */
function attemptLogic(env: StepEnv, fn: AttemptFn) {
  const type = noteType(env.id);
  return fromPromise(async (task: { input: Record<string, unknown>; signal: AbortSignal; self: AnyActorRef }) => {
    const attempt = task.input['attempt'];
    const note = (n: AttemptNote) => {
      const checked = checkNote(n);
      if (!taskStopped(task)) task.self.send({ type, attempt, note: checked });
    };
    // `Object.assign({}, input, ...)` rather than `{ ...input, ... }`: see `patch` in workflow-context.ts.
    const args = Object.assign({}, task.input, { note });
    return fn(Object.defineProperty(args, 'signal', { get: () => task.signal, enumerable: true }) as never);
  });
}

/** A note is plain data with string states and outcome; anything else is the caller's bug, named at the call. */
function checkNote(n: AttemptNote): AttemptNote {
  for (const field of ['from', 'to', 'outcome'] as const) {
    if (typeof n?.[field] !== 'string' || n[field].length === 0) throw new InvalidConfigError(`note.${field}`, 'must be a non-empty string');
  }
  if (n.detail !== undefined && (typeof n.detail !== 'object' || n.detail === null || Array.isArray(n.detail))) throw new InvalidConfigError('note.detail', 'must be a plain object');
  return n.detail === undefined ? { from: n.from, to: n.to, outcome: n.outcome } : { from: n.from, to: n.to, outcome: n.outcome, detail: n.detail };
}

function actorsOf(env: StepEnv): Record<string, AnyActorLogic> {
  const actors: Record<string, AnyActorLogic> = {};
  if (env.kind === 'compensation') {
    const run = compensationOf(env.def)?.run;
    if (run !== undefined) actors[env.src] = attemptLogic(env, run);
    return actors;
  }
  actors[env.src] = attemptLogic(env, env.def.run);
  if (typeof env.fallback === 'function') actors[actorName.fallback(env.id)] = attemptLogic(env, env.fallback);
  if (typeof env.verify === 'function') actors[actorName.verify(env.id)] = attemptLogic(env, env.verify);
  return actors;
}
