/** What an actor is, from the shape of its snapshot (the machines of `troupe/machines`). */
import type { WireSnapshot } from '../../src/inspection/wire.js';

export type ActorKind = 'workflow' | 'escrow' | 'breaker' | 'actor';

export function kindOf(snapshot: WireSnapshot | undefined): ActorKind {
  const c = snapshot?.context as Record<string, unknown> | undefined;
  if (typeof c !== 'object' || c === null) return 'actor';
  if (typeof c['workflowId'] === 'string' && typeof c['steps'] === 'object') return 'workflow';
  if (typeof c['items'] === 'object' && Array.isArray(c['levels'])) return 'escrow';
  if (typeof c['failureThreshold'] === 'number' && Array.isArray(c['failures'])) return 'breaker';
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
