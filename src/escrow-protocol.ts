/**
 * The escrow's message protocol (L0: types and names only; issue 13): what a workflow step submits, what a person's
 * decision looks like, and what the escrow tells the waiting workflow. The escrow machine (troupe/machines) speaks
 * it, `system.escrow()` (src/runtime/escrow-client.ts) and the inspector use it, so every side is typed alike.
 */
import type { PlainError } from './errors.js';

/** The id the default escrow has in its system: a workflow at `<system>/...` escalates to `<system>/escrow`. */
export const DEFAULT_ESCROW_ID = 'escrow';

/** What a step submits (`{ type: 'escrow.submit', item }`). */
export interface EscrowSubmission {
  readonly id: string;
  readonly workflowId: string;
  readonly stepId: string;
  /** Address the decision is told to. */
  readonly replyTo: string;
  readonly tier?: string;
  readonly reason?: string;
  readonly output?: unknown;
  readonly error?: unknown;
  readonly detail?: unknown;
  /** The workflow's input, so the person deciding sees what the run is about (issue 14). */
  readonly input?: unknown;
  /** What the step received from the steps before it (its handoff), for the person deciding. */
  readonly stepInput?: unknown;
}

/** An item waiting in the escrow (`escrow.list` answers with these). */
export interface EscrowItem extends EscrowSubmission {
  readonly tier: string;
  /** Escalation level, an index into the escrow's `levels` (0: the first). */
  readonly level: number;
  readonly submittedAt: number;
  readonly dueAt: number;
  readonly breaches: ReadonlyArray<{ readonly at: number; readonly fromLevel: string; readonly toLevel: string }>;
}

// ---- What the escrow receives ----

/** A step's escalation; asked (the runtime adds `replyTo`), answered with `{ queued: itemId }`. */
export interface EscrowSubmitEvent {
  readonly type: 'escrow.submit';
  readonly item: EscrowSubmission;
  readonly replyTo?: string;
}

/**
 * A person's decision. With `receipt: true` the escrow answers the ask with an `EscrowReceipt` — including for an
 * item it does not hold — so the sender learns what happened; `system.escrow()` always asks for one.
 */
export type EscrowDecisionEvent =
  | { readonly type: 'escrow.approve'; readonly itemId: string; readonly by?: string; readonly output?: unknown; readonly receipt?: boolean }
  | { readonly type: 'escrow.reject'; readonly itemId: string; readonly by?: string; readonly reason?: string; readonly receipt?: boolean }
  | { readonly type: 'escrow.retry'; readonly itemId: string; readonly by?: string; readonly receipt?: boolean };

/** Asked: the items waiting, as `EscrowItem[]`. */
export interface EscrowListEvent {
  readonly type: 'escrow.list';
}

/** Every event the escrow machine handles (besides the runtime's `troupe.timer`). */
export type EscrowCommand = EscrowSubmitEvent | EscrowDecisionEvent | EscrowListEvent;

/** What a decision becomes, as the workflow is told it. */
export type EscrowOutcome = 'approved' | 'rejected' | 'retry';

/** The answer to a decision asked with `receipt: true`. */
export type EscrowReceipt =
  | { readonly ok: true; readonly itemId: string; readonly outcome: EscrowOutcome }
  | { readonly ok: false; readonly itemId: string; readonly error: PlainError };

// ---- What the escrow sends ----

/** Told to the waiting workflow (`item.replyTo`): the decision, or a breached SLA that raised the item's level. */
export type EscrowNotice =
  | { readonly type: 'escrow.approved'; readonly itemId: string; readonly by?: string; readonly output?: unknown }
  | { readonly type: 'escrow.rejected'; readonly itemId: string; readonly by?: string; readonly reason?: string }
  | { readonly type: 'escrow.retry'; readonly itemId: string; readonly by?: string }
  | { readonly type: 'escrow.escalated'; readonly itemId: string; readonly level: number; readonly levelName: string };

/** Told to the escrow's `notify` address on every breach. */
export interface EscrowBreachedEvent {
  readonly type: 'escrow.breached';
  readonly item: EscrowItem;
}
