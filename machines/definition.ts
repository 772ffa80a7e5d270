/**
 * Workflow definitions as data plus functions (issue 3): `step`, `parallel`, `sequence` (a nested sub-workflow).
 * `workflow()` validates a definition when it is built and compiles it into a statechart (see workflow.ts).
 */
import type { RetryPolicy } from './policy.js';
import type { Summarizer, Tokenizer } from './handoff.js';

/** What each attempt of a step receives. */
export interface AttemptArgs<TInput = unknown> {
  /** The workflow's input. */
  readonly input: TInput;
  /** The handoff: outputs of the steps this one reads from, by step id (or their summary when over budget). */
  readonly context: unknown;
  /**
   * `${workflowId}/${stepId}`, and `${workflowId}/${stepId}/compensate` in a compensation (issue 8): stable across
   * attempts and recoveries, so effects can be deduplicated downstream, and never the same for a step and its undo.
   */
  readonly idempotencyKey: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /**
   * True when this attempt runs again because its process stopped while it ran (the workflow was restored from a
   * snapshot taken mid-attempt, issue 13): its first run may have had effects, so look before acting again.
   */
  readonly recovered?: boolean;
  readonly workflowId: string;
  readonly stepId: string;
  /** Aborted when the attempt times out (`startToCloseMs`, `scheduleToCloseMs`) or the workflow is cancelled. */
  readonly signal: AbortSignal;
  /**
   * Adds a progress entry about this attempt to the workflow's trace while it runs — an agent's turns
   * (`runAgent(machine, input, args)` passes them): what happened inside a step, not only that it ended. Ignored once
   * the attempt is over (a late call of an attempt that timed out records nothing).
   */
  readonly note: (note: AttemptNote) => void;
}

/** One progress entry of a running attempt: recorded as a trace entry of the step, at this attempt. */
export interface AttemptNote {
  /** The state the work was in, e.g. an agent's `thinking`. */
  readonly from: string;
  /** The state it moved to, e.g. `acting`. */
  readonly to: string;
  /** What happened, e.g. `tool-calls`. */
  readonly outcome: string;
  /** Plain data (it goes into the durable trace). */
  readonly detail?: Record<string, unknown>;
}

export type StepFn<TInput = unknown> = (args: AttemptArgs<TInput>) => Promise<unknown> | unknown;

/** A verifier's verdict: `true`/`{ ok: true }` passes, anything else fails. */
export type VerifyResult = boolean | { readonly ok: boolean; readonly reason?: string };

export interface VerifyArgs<TInput = unknown> extends AttemptArgs<TInput> {
  readonly output: unknown;
}

export type VerifierFn<TInput = unknown> = (args: VerifyArgs<TInput>) => Promise<VerifyResult> | VerifyResult;

/** A verifier function, or the address of a verifier agent asked with `{ type: 'verify', output, ... }`. */
export type Verifier<TInput = unknown> = VerifierFn<TInput> | string;

/** What a compensation receives: its `idempotencyKey` is `${workflowId}/${stepId}/compensate`, `stepId` the compensated step. */
export interface CompensateArgs<TInput = unknown> extends AttemptArgs<TInput> {
  /** The output of the step being compensated. */
  readonly output: unknown;
}

export type CompensateFn<TInput = unknown> = (args: CompensateArgs<TInput>) => Promise<unknown> | unknown;

/** A compensation, optionally with its own retry policy (exhausted compensations escalate, never drop). */
export type Compensation<TInput = unknown> = CompensateFn<TInput> | { readonly run: CompensateFn<TInput>; readonly retry?: RetryPolicy };

export interface StepOptions<TInput = unknown> {
  readonly retry?: RetryPolicy;
  /** Per-attempt timeout, ms: the attempt is aborted through its signal and counts as a retryable failure. */
  readonly startToCloseMs?: number;
  /** Overall timeout from the first attempt's start, ms, retries included: the step fails. */
  readonly scheduleToCloseMs?: number;
  /**
   * Default true: the step's failure aborts the workflow (compensations run), as a failed activity fails a Temporal
   * workflow. `false` opts into skipping it: the workflow goes on, and the output lists the step with its error.
   */
  readonly critical?: boolean;
  /** Checked before the next step runs. */
  readonly verify?: Verifier<TInput>;
  /** What a FAIL verdict does: retry the step (default; exhausted attempts follow `retry.onExhausted`) or escalate. */
  readonly onVerifyFail?: 'retry' | 'escalate';
  /** An output whose numeric `confidence` is below this escalates instead of continuing. */
  readonly minConfidence?: number;
  /**
   * Runs instead of the step while its circuit breaker is open: a function, or the address of another agent asked
   * with `{ type: 'fallback', input, context, idempotencyKey, attempt, ... }` (its answer is the step's output).
   */
  readonly fallback?: StepFn<TInput> | string;
  /** Address of the circuitBreaker actor protecting the step's target; asked for permission before each attempt. */
  readonly breaker?: string;
  /**
   * Addresses of the `pool` actors whose slots each attempt needs (issue 11): the attempt waits in the visible
   * `waiting` state until every pool granted it, and gives them back when it ends. A pool's deadline or a
   * `scheduleToCloseMs` ends the wait as a failed attempt, which the retry policy handles.
   */
  readonly uses?: readonly string[];
  /**
   * The flow-control key of this step's pool requests (a tenant, a customer, a model), from the workflow's input:
   * the pools' `perKey` limits and round robin across keys apply to it.
   */
  readonly poolKey?: (input: TInput) => string | undefined;
  /** Undoes the step's effect when a later critical step fails; runs under the key `${workflowId}/${stepId}/compensate`. */
  readonly compensate?: Compensation<TInput>;
  /** Escrow tier of this step's escalations; default `internal`. */
  readonly escalation?: { readonly tier?: string };
  /** Step ids whose outputs form the handoff; default every step finished before this one. */
  readonly from?: readonly string[];
  /** Token budget of this step's handoff; default the workflow's. */
  readonly tokenBudget?: number;
}

export interface StepDef<TInput = unknown> {
  readonly kind: 'step';
  readonly id: string;
  readonly run: StepFn<TInput>;
  readonly options: StepOptions<TInput>;
}

export interface ParallelDef<TInput = unknown> {
  readonly kind: 'parallel';
  readonly id: string | undefined;
  readonly branches: readonly DefinitionNode<TInput>[];
}

/** A nested sub-workflow: a sequence compiled into a compound state. */
export interface SequenceDef<TInput = unknown> {
  readonly kind: 'sequence';
  readonly id: string;
  readonly steps: readonly DefinitionNode<TInput>[];
}

export type DefinitionNode<TInput = unknown> = StepDef<TInput> | ParallelDef<TInput> | SequenceDef<TInput>;

/** The state key of an item at `index` among its siblings: its id; an unnamed parallel group's position. */
export function itemKey(node: DefinitionNode, index: number): string {
  return node.kind === 'parallel' ? node.id ?? `parallel-${index}` : node.id;
}

export interface WorkflowDefinition<TInput = unknown> {
  readonly steps: readonly DefinitionNode<TInput>[];
  /** Token budget per handoff; default 4,000. */
  readonly tokenBudget?: number;
  /** Counts tokens; default `estimateTokens` (about 4 characters per token). */
  readonly tokenizer?: Tokenizer;
  /** Called when a handoff is over budget; without one, the handoff is passed whole and traced as `over-budget`. */
  readonly summarizer?: Summarizer;
  /** Address of the escrow actor that escalations go to; default `escrow` (input `escrow` overrides). */
  readonly escrow?: string;
  /**
   * Step concurrency beyond one step (issue 11; Inngest's `concurrency`): every attempt of every step of this workflow
   * holds a slot of each of these pools while it runs (after the step's own `uses`). Like Inngest's, a limit counts
   * running steps, not runs: a run waiting for a person or a retry holds no slot. The pool's address is the scope —
   * one only this definition names caps its steps across all its runs; one that every definition names caps the
   * system's — and `key` (from the input) makes it a limit per tenant, customer or model with the pool's `perKey`.
   */
  readonly concurrency?: readonly (string | ConcurrencyLimit<TInput>)[];
}

/** One step-concurrency limit of a workflow: the pool whose slots its steps hold, and the flow-control key of their requests. */
export interface ConcurrencyLimit<TInput = unknown> {
  readonly pool: string;
  readonly key?: (input: TInput) => string | undefined;
}

/**
 * A step: `run` is invoked once per attempt.
 *
 * @example
 * step('send', sendEmail, { critical: true, compensate: recallEmail, escalation: { tier: 'customer-facing' } })
 */
export function step<TInput = unknown>(id: string, run: StepFn<TInput>, options: StepOptions<TInput> = {}): StepDef<TInput> {
  return { kind: 'step', id, run, options };
}

/** Branches that run at the same time (a parallel state); the group is done when every branch is done or skipped. */
export function parallel<TInput = unknown>(branches: readonly DefinitionNode<TInput>[], options: { id?: string } = {}): ParallelDef<TInput> {
  return { kind: 'parallel', id: options.id, branches };
}

/** A nested sub-workflow (hierarchical decomposition): its steps run in order inside one compound state. */
export function sequence<TInput = unknown>(id: string, steps: readonly DefinitionNode<TInput>[]): SequenceDef<TInput> {
  return { kind: 'sequence', id, steps };
}

export function compensationOf(def: StepDef): { run: CompensateFn; retry?: RetryPolicy } | undefined {
  const c = def.options.compensate;
  if (c === undefined) return undefined;
  return typeof c === 'function' ? { run: c as CompensateFn } : (c as { run: CompensateFn; retry?: RetryPolicy });
}
