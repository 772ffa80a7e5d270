/** What an actor is, from the shape of its snapshot (the machines of `troupe/machines`). */
import type { WireSnapshot } from '../../src/inspection/wire.js';

export type ActorKind = 'workflow' | 'escrow' | 'breaker' | 'pool' | 'actor';

export function kindOf(snapshot: WireSnapshot | undefined): ActorKind {
  const c = snapshot?.context as Record<string, unknown> | undefined;
  if (typeof c !== 'object' || c === null) return 'actor';
  if (typeof c['workflowId'] === 'string' && typeof c['steps'] === 'object') return 'workflow';
  if (typeof c['items'] === 'object' && Array.isArray(c['levels'])) return 'escrow';
  if (typeof c['failureThreshold'] === 'number' && Array.isArray(c['failures'])) return 'breaker';
  if (typeof c['capacity'] === 'number' && Array.isArray(c['queue']) && typeof c['leases'] === 'object') return 'pool';
  return 'actor';
}

export interface EscrowItemView {
  readonly id: string;
  readonly workflowId: string;
  readonly stepId: string;
  readonly tier: string;
  readonly reason?: string;
  readonly level: number;
  readonly submittedAt: number;
  readonly dueAt: number;
  readonly output?: unknown;
  readonly error?: { readonly message?: string };
  readonly breaches: readonly unknown[];
  /** The address of the workflow waiting for the decision. */
  readonly replyTo?: string;
  readonly input?: unknown;
  readonly stepInput?: unknown;
}

export function escrowItems(snapshot: WireSnapshot | undefined): EscrowItemView[] {
  const items = (snapshot?.context as { items?: Record<string, EscrowItemView> } | undefined)?.items ?? {};
  return Object.values(items).sort((a, b) => a.dueAt - b.dueAt);
}

export function levelsOf(snapshot: WireSnapshot | undefined): readonly string[] {
  return ((snapshot?.context as { levels?: string[] } | undefined)?.levels) ?? [];
}

export function workflowStatus(snapshot: WireSnapshot | undefined): string {
  const status = (snapshot?.context as { status?: unknown } | undefined)?.status;
  return typeof status === 'string' ? status : String(snapshot?.status ?? '?');
}

/** The statuses the workflow list filters by (issue 14): what a person needs to tell apart. */
export const WORKFLOW_FILTERS = [
  ['running', 'running'], ['waiting', 'waiting for a person'], ['compensating', 'compensating'], ['completed', 'completed'],
  ['completed-skipped', 'completed, steps skipped'], ['aborted', 'aborted'],
] as const;

export type WorkflowFilterStatus = (typeof WORKFLOW_FILTERS)[number][0];

/** A workflow's status for the list: a running one with an escalated step waits for a person; a completed one may have skipped steps. */
export function listStatus(snapshot: WireSnapshot | undefined): WorkflowFilterStatus | string {
  const status = workflowStatus(snapshot);
  const steps = Object.values((snapshot?.context as { steps?: Record<string, { status?: string }> } | undefined)?.steps ?? {});
  if (status === 'running' && steps.some((s) => s.status === 'escalated')) return 'waiting';
  if (status === 'completed' && steps.some((s) => s.status === 'skipped')) return 'completed-skipped';
  return status;
}

export function listStatusLabel(status: string): string {
  return WORKFLOW_FILTERS.find(([value]) => value === status)?.[1] ?? status;
}
