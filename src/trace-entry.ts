/**
 * The shape of the execution trace's entries (issue 3; one type for `system.trace()` and `troupe/machines`, issue
 * 13): every handoff and transition of a workflow, as Troupe's workflow, step and escrow machines record it.
 */
import type { PlainError } from './errors.js';

export type TraceKind = 'workflow' | 'step' | 'handoff' | 'compensation' | 'escrow' | 'breaker';

/** Model tokens, as the provider reported them (the LLM interface's `LlmUsage`, a trace entry's `usage`). */
export interface TokenUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
}

export interface TraceEntry {
  readonly workflowId: string;
  readonly kind: TraceKind;
  /** The step (or compensation, escrow item's step) the entry is about; '' for the workflow itself. */
  readonly step: string;
  /** Attempt number of the step, 1-based; 0 before the first attempt. */
  readonly attempt: number;
  /** Previous state (or, for a handoff, the steps whose outputs were passed). */
  readonly from: string;
  /** New state (or, for a handoff, the receiving step). */
  readonly to: string;
  /** What happened, e.g. `succeeded`, `failed`, `retrying`, `escalated`, `approved`, `summarized`. */
  readonly outcome: string;
  /** When it happened, ms on the actor's clock. */
  readonly at: number;
  /** When the attempt or wait that ended here began. */
  readonly startedAt?: number;
  /** Size of the data passed or produced, UTF-8 bytes of its JSON form. */
  readonly bytes?: number;
  /** Tokens of that data, by the workflow's tokenizer. */
  readonly tokens?: number;
  /** For a summarized handoff: the size and tokens before summarizing. */
  readonly originalBytes?: number;
  readonly originalTokens?: number;
  readonly summarized?: boolean;
  readonly delayMs?: number;
  /**
   * Model tokens an attempt paid for, as the provider reported them: on the entry that first holds the attempt's
   * output (`produced` before a verifier, else `succeeded` or `escalated`), when the output carries a `usage` (an
   * agent's does). Every attempt counts, a refused draft too; `traceUsage` sums them per step and per workflow.
   */
  readonly usage?: TokenUsage;
  readonly error?: PlainError;
  readonly detail?: Record<string, unknown>;
}
