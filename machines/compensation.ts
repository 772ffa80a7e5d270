/**
 * The compensating phase of a workflow (the saga's rollback, issue 3): after a critical step fails, the
 * compensations of completed steps run one at a time in reverse completion order, each as a state of its own
 * with its own retry policy; an exhausted compensation is escalated to a person, never dropped. Then `aborted`.
 * Each compensation runs under its own idempotency key, `${workflowId}/${stepId}/compensate` (`idempotencyKey` in
 * step-env.ts), so a service that deduplicates by key does not drop the undo as a repeat of the step (issue 8).
 */
import type { AnyActorLogic } from 'xstate';
import { Aborted, toPlainError } from '../src/errors.js';
import { compensationEnv, type StepEnv } from './step-env.js';
import * as r from './step-reducers.js';
import { stepState, type DelayFn } from './step.js';
import { poolCancels } from './step-move.js';
import { traceEvent } from './trace.js';
import { act, recordOf, type ReducerArgs, type WorkflowContext } from './workflow-context.js';

import type { TaskSpec } from './task.js';

export const ABORTED_ID = 'troupe:aborted';
export const COMPENSATING_ID = 'troupe:compensating';

export function compensatingState(steps: readonly StepEnv[]): {
  state: Record<string, unknown>;
  actors: Record<string, AnyActorLogic>;
  delays: Record<string, DelayFn>;
  tasks: TaskSpec<WorkflowContext>[];
} {
  const envs = steps.filter((s) => s.compensable).map(compensationEnv);
  const states: Record<string, unknown> = {};
  let actors: Record<string, AnyActorLogic> = {};
  let delays: Record<string, DelayFn> = {};
  const tasks: TaskSpec<WorkflowContext>[] = [];
  for (const env of envs) {
    const built = stepState(env, { initial: 'route', abortTarget: `#${ABORTED_ID}` });
    states[env.origin] = { ...built.state, onDone: { target: 'next', actions: act(finished(env)) } };
    actors = { ...actors, ...built.actors };
    delays = { ...delays, ...built.delays };
    tasks.push(...built.tasks);
  }
  states['next'] = {
    always: [
      ...envs.map((env) => ({
        guard: ({ context }: { context: WorkflowContext }) => context.compensations[0] === env.origin,
        target: env.origin,
        actions: act((a) => r.begin(env, a)),
      })),
      { target: `#${ABORTED_ID}`, actions: act(aborted) },
    ],
  };
  return { state: { id: COMPENSATING_ID, initial: 'next', entry: act(entered(steps)), states }, actors, delays, tasks };
}

/** Statuses in which a step's attempt holds or awaits pool slots (see step-move.ts). */
const HOLDING = new Set(['waiting', 'checking', 'running', 'fallback']);

const entered = (steps: readonly StepEnv[]) => (a: ReducerArgs) => {
  // Attempts still running or waiting in parallel branches were stopped on the way out: their pool slots go back.
  const releases = steps.filter((env) => env.uses.length > 0 && HOLDING.has(recordOf(a.context, env.id).status))
    .flatMap((env) => poolCancels(env, a.context.workflowId, recordOf(a.context, env.id)));
  return {
    // Their deadlines go with them.
    context: { status: 'compensating' as const, timers: {} },
    emit: [traceEvent({
      workflowId: a.context.workflowId, kind: 'workflow', step: a.context.cause?.stepId ?? '', attempt: 0,
      from: 'running', to: 'compensating', outcome: 'compensating', at: a.now, error: a.context.cause?.error,
      detail: { compensations: a.context.compensations },
    }), ...releases],
  };
};

function finished(env: StepEnv) {
  return (a: ReducerArgs) => ({
    context: {
      compensations: a.context.compensations.slice(1),
      compensated: recordOf(a.context, env.id).status === 'done' ? [...a.context.compensated, env.origin] : a.context.compensated,
    },
  });
}

function aborted(a: ReducerArgs) {
  return {
    context: { status: 'aborted' as const },
    emit: [traceEvent({
      workflowId: a.context.workflowId, kind: 'workflow', step: a.context.cause?.stepId ?? '', attempt: 0,
      from: 'compensating', to: 'aborted', outcome: 'aborted', at: a.now, error: a.context.cause?.error,
      detail: { compensated: a.context.compensated },
    })],
  };
}

/** `workflow.cancel`: abort from outside (running attempts are aborted through their signals). */
export function cancelled(a: ReducerArgs) {
  const reason = (a.event as { reason?: unknown }).reason;
  const error = toPlainError(new Aborted(`workflow cancelled: ${typeof reason === 'string' ? reason : 'no reason given'}`));
  return { context: { cause: { stepId: '', error }, compensations: [...a.context.completed].reverse() } };
}
