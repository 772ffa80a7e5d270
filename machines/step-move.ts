/**
 * The primitive every step transition goes through: set the step's record, re-arm its timers from the record's
 * due times, and emit the trace entry first, then the messages the transition causes (tell, ask).
 */
import type { AnyEventObject } from 'xstate';
import { ASK_EMITTED, TELL_EMITTED, type AskEmitted, type TellEmitted } from './emit.js';
import { poolRequestId, timerKey, type StepEnv } from './step-env.js';
import { withoutTimers, withTimer, type Timers } from './timers.js';
import { traceEvent, type TraceEntry } from './trace.js';
import { patch, recordOf, withEntry, type Effect, type ReducerArgs, type StepRecord, type StepStatus, type WorkflowContext } from './workflow-context.js';

export type Extra = { outcome: string; trace?: Partial<TraceEntry>; context?: Partial<WorkflowContext>; emit?: readonly object[] };

/** Moves the step to `next.status`: re-arms its timers, records the trace entry, applies extra changes. */
export function moveTo(env: StepEnv, a: ReducerArgs, next: StepRecord, extra: Extra): Effect {
  const prev = recordOf(a.context, env.id);
  // Only `steps` and `timers` are read from the merged context: no copy of the whole context (hot path).
  const steps = extra.context?.steps ?? a.context.steps;
  const timers = extra.context?.timers ?? a.context.timers;
  const base: TraceEntry = {
    workflowId: a.context.workflowId, kind: env.kind, step: env.origin, attempt: next.attempt,
    from: prev.status, to: next.status, outcome: extra.outcome, at: a.now,
  };
  const entry = extra.trace === undefined ? base : Object.assign(base, extra.trace);
  const context: Partial<WorkflowContext> = extra.context === undefined ? {} : patch(extra.context, {});
  (context as { steps: unknown }).steps = withEntry(steps, env.id, next);
  (context as { timers: unknown }).timers = timersFor(env, timers, next);
  // The trace entry goes out first: the record of a transition precedes the messages it causes.
  const emit: AnyEventObject[] = [traceEvent(entry)];
  if (extra.emit !== undefined) for (const e of extra.emit) emit.push(e as AnyEventObject);
  if (env.uses.length > 0 && holdsPools(prev.status) && (!holdsPools(next.status) || next.attempt !== prev.attempt)) {
    for (const e of poolCancels(env, a.context.workflowId, prev)) emit.push(e);
  }
  return { context, emit };
}

/** Statuses in which an attempt holds (or waits for) its pools' slots: from `waiting` until its work ends. */
function holdsPools(status: StepStatus): boolean {
  return status === 'waiting' || status === 'checking' || status === 'running' || status === 'fallback';
}

/** Gives back an attempt's slots, granted or still queued (a pool's cancel frees either); pools not yet asked are skipped. */
export function poolCancels(env: StepEnv, workflowId: string, r: StepRecord): TellEmitted[] {
  const asked = r.status === 'waiting' ? Math.min((r.granted?.length ?? 0) + 1, env.uses.length) : env.uses.length;
  return env.uses.slice(0, asked).map((pool, index) => tell(pool, { type: 'pool.cancel', requestId: poolRequestOf(env, workflowId, r.attempt, index) }));
}

/** Asks the next pool of an attempt for its slot (pools are asked one at a time, in `uses` order: see `begin`). */
export function poolAcquire(env: StepEnv, a: ReducerArgs, attempt: number, index: number): TellEmitted {
  const key = env.poolKeys[index]?.(a.context.input as never);
  return tell(env.uses[index]!, {
    type: 'pool.acquire', requestId: poolRequestOf(env, a.context.workflowId, attempt, index), replyTo: a.context.address, ...(typeof key === 'string' ? { key } : {}),
  });
}

/** The request id of one pool of an attempt: `<workflowId>/<stepId>/<attempt>#<index in uses>`. */
export function poolRequestOf(env: StepEnv, workflowId: string, attempt: number, index: number): string {
  return `${poolRequestId(workflowId, env, attempt)}#${index}`;
}

const ACTIVE: ReadonlySet<StepStatus> = new Set(['summarizing', 'checking', 'waiting', 'running', 'fallback', 'verifying', 'retrying']);

function timersFor(env: StepEnv, timers: Timers, r: StepRecord): Timers {
  let t = withoutTimers(timers, timerKey.prefix(env.id));
  if (!ACTIVE.has(r.status)) return t;
  if (env.scheduleToCloseMs !== undefined && r.startedAt !== undefined) t = withTimer(t, timerKey.scheduleToClose(env.id), 'scheduleToClose', r.startedAt + env.scheduleToCloseMs);
  if (r.status === 'running' && env.startToCloseMs !== undefined) t = withTimer(t, timerKey.startToClose(env.id), 'startToClose', (r.attemptStartedAt ?? 0) + env.startToCloseMs);
  if (r.status === 'retrying' && r.retryAt !== undefined) t = withTimer(t, timerKey.retry(env.id), 'retry', r.retryAt);
  if (awaitsAnswer(env, r.status) && r.askedAt !== undefined) t = withTimer(t, timerKey.ask(env.id), 'ask', r.askedAt + env.askTimeoutMs);
  return t;
}

export function awaitsAnswer(env: StepEnv, status: StepStatus): boolean {
  return (status === 'checking') || (status === 'verifying' && typeof env.verify === 'string') || (status === 'summarizing' && typeof env.summarizer === 'string')
    || (status === 'fallback' && typeof env.fallback === 'string');
}

export function ask(env: StepEnv, a: ReducerArgs, to: string, event: { type: string } & Record<string, unknown>, replyType: string): AskEmitted {
  const asked = { ...event, workflowId: a.context.workflowId, stepId: env.id, replyTo: a.context.address } as AskEmitted['event'];
  return { type: ASK_EMITTED, to, event: asked, replyType, timeoutMs: env.askTimeoutMs };
}

export function tell(to: string, event: { type: string } & Record<string, unknown>): TellEmitted {
  return { type: TELL_EMITTED, to, event };
}

