/**
 * What each transition of a step does to the workflow's context: pure functions of `{ context, event, now }`.
 * Every function returns the step's next status in `context.steps[id].status`; the step's `route` state then
 * takes the matching transition, so each decision is one visible state change (see step.ts).
 */
import type { EscrowNotice } from '../src/escrow-protocol.js';
import type { AnyEventObject } from 'xstate';
import { NonRetryableError, RetryableError, TimeoutError, toPlainError, type PlainError } from '../src/errors.js';
import { handoffContext, measure, outputSize } from './handoff.js';
import { isPermanent, retryDelay } from './policy.js';
import { answerType, idempotencyKey, type StepEnv } from './step-env.js';
import { ask, moveTo, poolAcquire, poolRequestOf, tell } from './step-move.js';
import { nextRandom } from './timers.js';
import { traceEvent, type TokenUsage, type TraceEntry } from './trace.js';
import type { AttemptNote } from './definition.js';
import { patch, patchRecord, recordOf, withEntry, type Effect, type ReducerArgs, type StepRecord } from './workflow-context.js';

export { moveTo, awaitsAnswer } from './step-move.js';

/** Starts an attempt: asks the breaker first when the step has one. `roundStart` begins a new retry budget. */
export function begin(env: StepEnv, a: ReducerArgs, roundStart?: number, from: StepRecord = recordOf(a.context, env.id)): Effect {
  const prev = from;
  if (env.uses.length > 0) {
    // First the pools' slots (issue 11): the attempt waits, visibly, until every pool granted one. Pools are asked one
    // at a time, in `uses` order (the step's own, then its workflow's limits, narrowest first): an attempt never
    // holds a wide slot (the system's) while it queues for a narrow one (its tenant's), and a fixed order cannot
    // deadlock two attempts that each hold what the other waits for.
    const attempt = prev.attempt + 1;
    const r: StepRecord = patchRecord(prev, {
      status: 'waiting', attempt, roundStart: roundStart ?? prev.roundStart, startedAt: prev.startedAt ?? a.now, attemptStartedAt: a.now,
      askedAt: undefined, retryAt: undefined, viaFallback: false, granted: [],
    });
    return moveTo(env, a, r, { outcome: 'waiting-for-resources', trace: { detail: { uses: env.uses } }, emit: [poolAcquire(env, a, attempt, 0)] });
  }
  return startAttempt(env, a, roundStart, prev);
}

/** Asks the breaker, or runs: the start of an attempt once its resources (if any) are held. */
function startAttempt(env: StepEnv, a: ReducerArgs, roundStart: number | undefined, prev: StepRecord): Effect {
  const checking = env.breaker !== undefined;
  const waited = prev.status === 'waiting';
  const r: StepRecord = patchRecord(prev, {
    status: checking ? 'checking' : 'running', attempt: waited ? prev.attempt : prev.attempt + 1, roundStart: roundStart ?? prev.roundStart,
    startedAt: prev.startedAt ?? a.now, attemptStartedAt: a.now, askedAt: checking ? a.now : undefined, retryAt: undefined, viaFallback: false,
  });
  // After a wait for pools, the entry says when the wait began (metrics: troupe.pool.wait).
  const waitedSince = waited && prev.attemptStartedAt !== undefined ? { trace: { startedAt: prev.attemptStartedAt } } : {};
  if (!checking) return moveTo(env, a, r, { outcome: 'started', ...waitedSince });
  return moveTo(env, a, r, { outcome: 'asking-breaker', ...waitedSince, emit: [ask(env, a, env.breaker as string, { type: 'breaker.request' }, answerType.breaker(env.id))] });
}

/** waiting: one pool granted its slot; with every slot held the attempt starts. A grant of another attempt is ignored (guard). */
export function granted(env: StepEnv): (a: ReducerArgs) => Effect {
  return (a) => {
    const prev = recordOf(a.context, env.id);
    const index = poolIndexOf(env, a.context.workflowId, prev.attempt, (a.event as { requestId?: unknown }).requestId);
    if (index === undefined || prev.granted?.includes(env.uses[index]!)) return {};
    const held = [...(prev.granted ?? []), env.uses[index]!];
    const r: StepRecord = patchRecord(prev, { granted: held });
    if (held.length < env.uses.length) {
      return moveTo(env, a, r, { outcome: 'granted', trace: { detail: { pool: env.uses[index] } }, emit: [poolAcquire(env, a, prev.attempt, held.length)] });
    }
    return startAttempt(env, a, undefined, r);
  };
}

/** running: a pool's lease ran out under the attempt; recorded in the trace, the attempt goes on. */
export function leaseRevoked(env: StepEnv): (a: ReducerArgs) => Effect {
  return (a) => {
    const prev = recordOf(a.context, env.id);
    const index = poolIndexOf(env, a.context.workflowId, prev.attempt, (a.event as { requestId?: unknown }).requestId);
    return moveTo(env, a, prev, { outcome: 'lease-revoked', trace: { detail: { pool: index === undefined ? undefined : env.uses[index] } } });
  };
}

/**
 * A progress note of the running attempt (an agent's turn, see `AttemptArgs.note`): one trace entry; the step's
 * record does not change, so it costs no context copy.
 */
export function noted(env: StepEnv): (a: ReducerArgs) => Effect {
  return (a) => {
    const { note } = a.event as unknown as { note: AttemptNote };
    const entry: TraceEntry = {
      workflowId: a.context.workflowId, kind: env.kind, step: env.origin, attempt: recordOf(a.context, env.id).attempt,
      from: note.from, to: note.to, outcome: note.outcome, at: a.now, ...(note.detail === undefined ? {} : { detail: note.detail }),
    };
    return { emit: [traceEvent(entry)] };
  };
}

/** waiting: a pool could not give a slot in time (its deadline): a failed attempt, which the retry policy handles. */
export function poolFailed(env: StepEnv): (a: ReducerArgs) => Effect {
  return (a) => {
    const error = (a.event as { error?: PlainError }).error ?? toPlainError(new RetryableError('the pool gave no slot', { type: 'PoolDeadline' }));
    return failed(env, error, false)(a);
  };
}

/** The index in `uses` of an attempt's pool request id, or undefined when it names another attempt or step. */
export function poolIndexOf(env: StepEnv, workflowId: string, attempt: number, requestId: unknown): number | undefined {
  if (typeof requestId !== 'string') return undefined;
  const index = env.uses.findIndex((_, i) => poolRequestOf(env, workflowId, attempt, i) === requestId);
  return index < 0 ? undefined : index;
}

/** checking: the breaker's answer. Allowed runs the step; open routes to the fallback or fails fast. */
export function permitted(env: StepEnv): (a: ReducerArgs) => Effect {
  return (a) => {
    const answer = a.event as { ok?: boolean; payload?: { allowed?: boolean; retryAfterMs?: number; state?: string }; error?: PlainError };
    const prev = recordOf(a.context, env.id);
    if (answer.ok === true && answer.payload?.allowed === true) {
      return moveTo(env, a, patchRecord(prev, { status: 'running', askedAt: undefined, attemptStartedAt: a.now }), { outcome: 'permitted' });
    }
    if (answer.ok !== true) return failed(env, answer.error ?? toPlainError(new RetryableError('breaker did not answer', { type: 'BreakerUnavailable' })), false)(a);
    if (env.fallback !== undefined) {
      const agent = typeof env.fallback === 'string' ? env.fallback : undefined;
      const emit = agent === undefined ? [] : [ask(env, a, agent, {
        type: 'fallback', input: a.context.input, context: handoffContext(prev.handoff, env.from, a.context.results), idempotencyKey: idempotencyKey(a.context.workflowId, env), attempt: prev.attempt,
      }, answerType.fallback(env.id))];
      return moveTo(env, a, patchRecord(prev, { status: 'fallback', askedAt: agent === undefined ? undefined : a.now, viaFallback: true }), { outcome: 'breaker-open', trace: { detail: { breaker: env.breaker } }, emit });
    }
    const open = new RetryableError(`circuit open: ${env.breaker}`, { type: 'CircuitOpen', retryAfterMs: answer.payload?.retryAfterMs });
    return failed(env, toPlainError(open), false)(a);
  };
}

/** running/fallback: the attempt produced `output`. */
export function succeeded(env: StepEnv, answer?: unknown): (a: ReducerArgs) => Effect {
  return (a) => {
    const output = answer !== undefined ? answer : (a.event as { output?: unknown }).output;
    const prev = recordOf(a.context, env.id);
    const emit: object[] = env.breaker !== undefined && prev.viaFallback !== true ? [tell(env.breaker, { type: 'breaker.success', workflowId: a.context.workflowId, stepId: env.id })] : [];
    if (env.verify !== undefined) {
      const verifying: StepRecord = patchRecord(prev, { status: 'verifying', output, askedAt: typeof env.verify === 'string' ? a.now : undefined });
      if (typeof env.verify === 'string') {
        emit.push(ask(env, a, env.verify, { type: 'verify', output, attempt: prev.attempt }, answerType.verify(env.id)));
      }
      return moveTo(env, a, verifying, { outcome: 'produced', trace: { startedAt: prev.attemptStartedAt, bytes: measure(output).bytes, ...usageOf(output) }, emit });
    }
    const accepted = accept(env, a, output, usageOf(output));
    return emit.length === 0 ? accepted : { context: accepted.context, emit: [...(emit as AnyEventObject[]), ...(accepted.emit ?? [])] };
  };
}

/**
 * What an attempt paid for, for the trace entry that first holds its output: `{ usage }` when the output reports the
 * model tokens it cost (an agent's output does), else nothing.
 */
type Paid = { readonly usage?: TokenUsage };
function usageOf(output: unknown): Paid {
  const u = (output as { usage?: { inputTokens?: unknown; outputTokens?: unknown } } | null)?.usage;
  return u !== null && typeof u === 'object' && typeof u.inputTokens === 'number' && typeof u.outputTokens === 'number' ? { usage: { inputTokens: u.inputTokens, outputTokens: u.outputTokens } } : {};
}

/** verifying: the verdict. FAIL retries or escalates, by the step's `onVerifyFail`. */
export function verified(env: StepEnv, verdict: { ok: boolean; reason?: string }): (a: ReducerArgs) => Effect {
  return (a) => {
    const prev = recordOf(a.context, env.id);
    if (verdict.ok) return accept(env, a, prev.output);
    const error = toPlainError(new RetryableError(`verification failed: ${verdict.reason ?? 'no reason given'}`, { type: 'VerificationFailed' }));
    if (env.onVerifyFail === 'escalate') return escalate(env, a, 'verification-failed', error);
    return failed(env, error, false)(a);
  };
}

/** An output below `minConfidence` escalates; anything else completes the step. `paid` goes on the entry either way. */
function accept(env: StepEnv, a: ReducerArgs, output: unknown, paid: Paid = {}): Effect {
  const confidence = (output as { confidence?: unknown } | null)?.confidence;
  if (env.minConfidence !== undefined && typeof confidence === 'number' && confidence < env.minConfidence) {
    return escalate(env, a, 'low-confidence', undefined, { confidence, minConfidence: env.minConfidence }, output, paid);
  }
  return done(env, a, output, 'succeeded', paid);
}

export function done(env: StepEnv, a: ReducerArgs, output: unknown, outcome: string, paid: Paid = {}): Effect {
  const prev = recordOf(a.context, env.id);
  const m = measure(output, env.tokenizer);
  if (env.kind === 'compensation') {
    return moveTo(env, a, patchRecord(prev, { status: 'done', output, error: undefined }), { outcome, trace: { startedAt: prev.attemptStartedAt, bytes: m.bytes, ...paid } });
  }
  // The output lives in `results`; the record keeps no second copy (snapshots stay small), only its size.
  const handoff = prev.handoff?.context === undefined ? prev.handoff : patch(prev.handoff, { context: undefined });
  const size = typeof output === 'string' || output === undefined ? outputSize(output) : { chars: m.text.length, bytes: m.bytes };
  return moveTo(env, a, patchRecord(prev, { status: 'done', output: undefined, outputSize: size, error: undefined, handoff }), {
    outcome, trace: { startedAt: prev.attemptStartedAt, bytes: m.bytes, tokens: m.tokens, ...paid },
    context: {
      results: withEntry(a.context.results, env.id, output),
      completed: env.compensable ? [...a.context.completed, env.id] : a.context.completed,
    },
  });
}

/** An attempt failed: retry after backoff, escalate or give up, by policy. `report` tells the breaker. */
export function failed(env: StepEnv, error: PlainError, report = true): (a: ReducerArgs) => Effect {
  return (a) => {
    const prev = recordOf(a.context, env.id);
    const emit = report && env.breaker !== undefined && prev.viaFallback !== true
      ? [tell(env.breaker, { type: 'breaker.failure', workflowId: a.context.workflowId, stepId: env.id, error })] : [];
    const outcome = exhaustedOrRetry(env, a, prev, error);
    return { context: outcome.context, emit: [...emit, ...(outcome.emit ?? [])] };
  };
}

function exhaustedOrRetry(env: StepEnv, a: ReducerArgs, prev: StepRecord, error: PlainError): Effect {
  if (isPermanent(env.retry, error)) return giveUp(env, a, error, 'failed-permanently');
  const used = prev.attempt - prev.roundStart;
  if (used < env.retry.maximumAttempts) {
    const rnd = nextRandom(a.context.rng);
    const delayMs = retryDelay(env.retry, used, error, () => rnd.value);
    const retryAt = a.now + delayMs;
    const deadline = env.scheduleToCloseMs !== undefined && prev.startedAt !== undefined ? prev.startedAt + env.scheduleToCloseMs : Infinity;
    if (retryAt < deadline) {
      return moveTo(env, a, patchRecord(prev, { status: 'retrying', error, retryAt, askedAt: undefined }), {
        outcome: 'retrying', trace: { error, delayMs, startedAt: prev.attemptStartedAt }, context: { rng: rnd.state },
      });
    }
  }
  return exhausted(env, a, error);
}

export function exhausted(env: StepEnv, a: ReducerArgs, error: PlainError): Effect {
  if (env.retry.onExhausted === 'escalate') return escalate(env, a, 'retries-exhausted', error);
  return giveUp(env, a, error, 'exhausted');
}

/** Ends the step as failed: a critical step aborts the workflow, any other is skipped. */
export function giveUp(env: StepEnv, a: ReducerArgs, error: PlainError, outcome: string): Effect {
  const prev = recordOf(a.context, env.id);
  // A compensation is never silently dropped: only a person's rejection ends it unfinished.
  if (env.kind === 'compensation' && outcome !== 'rejected') return escalate(env, a, outcome, error);
  if (!env.critical) return moveTo(env, a, patchRecord(prev, { status: 'skipped', error }), { outcome, trace: { error } });
  const compensations = [...a.context.completed].reverse();
  return moveTo(env, a, patchRecord(prev, { status: 'failed', error }), {
    outcome, trace: { error }, context: { cause: { stepId: env.id, error }, compensations, status: 'compensating' },
  });
}

/** Puts an item in the escrow and waits for a person. */
export function escalate(env: StepEnv, a: ReducerArgs, reason: string, error?: PlainError, detail?: Record<string, unknown>, output?: unknown, paid: Paid = {}): Effect {
  const prev = output === undefined ? recordOf(a.context, env.id) : patchRecord(recordOf(a.context, env.id), { output });
  const itemId = `${a.context.workflowId}/${env.id}/${prev.attempt}`;
  const item = {
    id: itemId, workflowId: a.context.workflowId, stepId: env.origin, kind: env.kind, replyTo: a.context.address, tier: env.tier, reason,
    attempt: prev.attempt, output: prev.output, error, detail,
    // What the person deciding needs beside the output: what the run is about and what the step was given.
    input: a.context.input, stepInput: handoffContext(prev.handoff, env.from, a.context.results),
  };
  return moveTo(env, a, patchRecord(prev, { status: 'escalated', error, escalation: { itemId, reason, tier: env.tier, level: 0, since: a.now } }), {
    outcome: 'escalated', trace: { error, detail: { reason, itemId, tier: env.tier, ...detail }, ...paid },
    // An ask, not a tell: an escalation that reaches no escrow fails the step (issue 13) instead of waiting for ever.
    emit: [ask(env, a, a.context.escrow, { type: 'escrow.submit', item: JSON.parse(JSON.stringify(item)) as Record<string, unknown> }, answerType.escrow(env.id))],
  });
}

/** escalated: the escrow could not be reached. A step fails (critical: the workflow aborts); a compensation ends unfinished. */
export function escrowUnreachable(env: StepEnv): (a: ReducerArgs) => Effect {
  return (a) => {
    const answer = a.event as { error?: PlainError };
    const error = answer.error ?? toPlainError(new Error(`escrow ${a.context.escrow} did not take the escalation`));
    return giveUp(env, a, error, env.kind === 'compensation' ? 'rejected' : 'escrow-unreachable');
  };
}

/** escalated: a person decided. */
export function decided(env: StepEnv, decision: 'approved' | 'rejected' | 'retry'): (a: ReducerArgs) => Effect {
  return (a) => {
    const prev = recordOf(a.context, env.id);
    const event = a.event as EscrowNotice;
    if (decision === 'approved') return done(env, a, 'output' in event ? event.output : prev.output, 'approved');
    // A person's retry starts a fresh budget: attempts and the scheduleToClose window count from now.
    if (decision === 'retry') return begin(env, a, prev.attempt, patchRecord(prev, { startedAt: undefined }));
    const error = toPlainError(new NonRetryableError(`rejected by a person: ${(event.type === 'escrow.rejected' ? event.reason : undefined) ?? 'no reason given'}`, { type: 'EscalationRejected' }));
    return giveUp(env, a, error, 'rejected');
  };
}

/** escalated: the escrow breached its SLA and raised the item's level; recorded, still waiting. */
export function breached(env: StepEnv): (a: ReducerArgs) => Effect {
  return (a) => {
    const prev = recordOf(a.context, env.id);
    const event = a.event as Partial<Extract<EscrowNotice, { type: 'escrow.escalated' }>>;
    const escalation = prev.escalation === undefined ? undefined : patch(prev.escalation, { level: event.level ?? prev.escalation.level + 1 });
    return moveTo(env, a, patchRecord(prev, { escalation }), { outcome: 'sla-breached', trace: { detail: { level: escalation?.level, levelName: event.levelName } } });
  };
}

export function timedOut(env: StepEnv, which: 'startToClose' | 'scheduleToClose' | 'ask'): (a: ReducerArgs) => Effect {
  return (a) => {
    if (which === 'scheduleToClose') {
      return exhausted(env, a, toPlainError(new TimeoutError(`step ${env.id} exceeded scheduleToCloseMs`, env.scheduleToCloseMs ?? 0)));
    }
    if (which === 'startToClose') {
      return failed(env, toPlainError(new TimeoutError(`attempt of ${env.id} exceeded startToCloseMs`, env.startToCloseMs ?? 0)))(a);
    }
    return failed(env, toPlainError(new RetryableError(`no answer within ${env.askTimeoutMs} ms`, { type: 'AskTimeout' })), false)(a);
  };
}
