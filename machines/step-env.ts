/**
 * A step's compiled environment: its definition with defaults filled, shared by its reducers and its states.
 */
import type { ConcurrencyLimit, StepDef, StepFn, Verifier } from './definition.js';
import { compensationOf } from './definition.js';
import { handoffKeys, type HandoffKey, type Summarizer, type Tokenizer } from './handoff.js';
import { resolveRetry, type ResolvedRetryPolicy } from './policy.js';

/** How long a step waits for an asked agent (breaker, verifier, summarizer) before counting it as a failure. */
export const DEFAULT_ASK_TIMEOUT_MS = 30_000;
export const DEFAULT_TIER = 'internal';

export interface StepEnv {
  /** The record key: the step id, or `${stepId}~compensate` for its compensation. */
  readonly id: string;
  readonly kind: 'step' | 'compensation';
  /** The step this env belongs to (the compensated one, for a compensation). */
  readonly origin: string;
  /** Name of the attempt's work (its state's task, task.ts) in `setup({ actors })`. */
  readonly src: string;
  readonly def: StepDef;
  readonly retry: ResolvedRetryPolicy;
  readonly critical: boolean;
  readonly compensable: boolean;
  readonly tier: string;
  readonly breaker: string | undefined;
  /** Pools whose slots each attempt waits for (empty: none): the step's `uses`, then its workflow's `concurrency`. */
  readonly uses: readonly string[];
  /** The flow-control key of each pool's requests (by index in `uses`), from the workflow input. */
  readonly poolKeys: readonly (((input: never) => string | undefined) | undefined)[];
  readonly fallback: StepFn | string | undefined;
  readonly verify: Verifier | undefined;
  readonly onVerifyFail: 'retry' | 'escalate';
  readonly minConfidence: number | undefined;
  readonly startToCloseMs: number | undefined;
  readonly scheduleToCloseMs: number | undefined;
  /** Steps whose outputs form the handoff. */
  readonly from: readonly string[];
  /** The distinct keys of `from`, sized for measuring handoffs by summing (handoff.ts). */
  readonly handoffKeys: readonly HandoffKey[];
  readonly budget: number;
  readonly tokenizer: Tokenizer;
  readonly summarizer: Summarizer | undefined;
  readonly askTimeoutMs: number;
}

export function stepEnv(
  def: StepDef,
  before: readonly string[],
  shared: { budget: number; tokenizer: Tokenizer; summarizer: Summarizer | undefined; concurrency?: readonly ConcurrencyLimit[] },
): StepEnv {
  const o = def.options;
  const own = o.uses ?? [];
  // A workflow-wide limit on a pool the step already uses is that one slot: the step's own key stands.
  const limits = (shared.concurrency ?? []).filter((limit) => !own.includes(limit.pool));
  return {
    id: def.id,
    kind: 'step',
    origin: def.id,
    src: actorName.work(def.id),
    def,
    retry: resolveRetry(o.retry),
    critical: o.critical !== false,
    compensable: compensationOf(def) !== undefined,
    tier: o.escalation?.tier ?? DEFAULT_TIER,
    breaker: o.breaker,
    uses: [...own, ...limits.map((limit) => limit.pool)],
    poolKeys: [...own.map(() => o.poolKey as StepEnv['poolKeys'][number]), ...limits.map((limit) => limit.key as StepEnv['poolKeys'][number])],
    fallback: o.fallback,
    verify: o.verify,
    onVerifyFail: o.onVerifyFail ?? 'retry',
    minConfidence: o.minConfidence,
    startToCloseMs: o.startToCloseMs,
    scheduleToCloseMs: o.scheduleToCloseMs,
    from: o.from ?? before,
    handoffKeys: handoffKeys(o.from ?? before),
    budget: o.tokenBudget ?? shared.budget,
    tokenizer: shared.tokenizer,
    summarizer: shared.summarizer,
    askTimeoutMs: DEFAULT_ASK_TIMEOUT_MS,
  };
}

/** A compensation runs like a step of its own: retried by its policy, and escalated (never dropped) when exhausted. */
export function compensationEnv(step: StepEnv): StepEnv {
  const c = compensationOf(step.def);
  return {
    ...step,
    id: `${step.id}~compensate`,
    kind: 'compensation',
    src: actorName.compensate(step.id),
    retry: { ...resolveRetry(c?.retry), onExhausted: 'escalate' },
    critical: false,
    compensable: false,
    breaker: undefined,
    uses: [],
    poolKeys: [],
    fallback: undefined,
    verify: undefined,
    minConfidence: undefined,
    startToCloseMs: undefined,
    scheduleToCloseMs: undefined,
    from: [],
    handoffKeys: [],
    summarizer: undefined,
  };
}

/**
 * The idempotency key of a step's attempts: `${workflowId}/${stepId}`, and `${workflowId}/${stepId}/compensate` for
 * its compensation (issue 8) — a service that deduplicates by key must not take the undo for a repeat of the step.
 * Stable across attempts and recoveries.
 */
export function idempotencyKey(workflowId: string, env: StepEnv): string {
  return env.kind === 'compensation' ? `${workflowId}/${env.origin}/compensate` : `${workflowId}/${env.origin}`;
}

/** The id of an attempt's pool requests: one per attempt, so a late grant of an earlier attempt is told apart. */
export function poolRequestId(workflowId: string, env: StepEnv, attempt: number): string {
  return `${workflowId}/${env.id}/${attempt}`;
}

/** Timer and delay keys of a step; ids never contain ':' or '~', so a step's prefix matches only its own timers. */
export const timerKey = {
  retry: (id: string) => `${id}:retry`,
  startToClose: (id: string) => `${id}:startToClose`,
  scheduleToClose: (id: string) => `${id}:scheduleToClose`,
  ask: (id: string) => `${id}:ask`,
  prefix: (id: string) => `${id}:`,
} as const;

/** Answer event types of the asks a step sends, one per step so parallel steps' answers never cross. */
export const answerType = {
  breaker: (id: string) => `troupe.answer.breaker.${id}`,
  verify: (id: string) => `troupe.answer.verify.${id}`,
  summary: (id: string) => `troupe.answer.summary.${id}`,
  fallback: (id: string) => `troupe.answer.fallback.${id}`,
  /** The escrow's receipt of an escalation (`{ queued: itemId }`), or the error when it could not be delivered. */
  escrow: (id: string) => `troupe.answer.escrow.${id}`,
} as const;

/** The event a running attempt's `note()` sends its workflow (one type per step, so only that step handles it). */
export const noteType = (id: string) => `troupe.note.${id}`;

/** Names of a step's implementations in `setup({ actors })`; swap them with `machine.provide({ actors })`. */
export const actorName = {
  work: (id: string) => `step:${id}`,
  fallback: (id: string) => `fallback:${id}`,
  verify: (id: string) => `verify:${id}`,
  compensate: (id: string) => `compensate:${id}`,
  summarize: 'troupe.summarize',
} as const;
