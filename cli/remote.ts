/**
 * The `troupe` commands that read or decide something on a running system (issue 10): `nodes`, `ps`, `escrow`,
 * `dlq`, `trace`. Each gets a client node of the system (connect.ts), does its one thing and returns its exit code;
 * the output is a table, or JSON (and nothing else) with `--json`.
 */
import type { TroupeSystem } from '../src/index.js';
import { EXIT, UsageError } from './exit.js';
import { table } from './table.js';

type Output = (text: string) => void;

/** Prints `value` as JSON, or the table `render` makes of it. */
function print<T>(out: Output, json: boolean, value: T, render: (value: T) => string): number {
  out(json ? `${JSON.stringify(value)}\n` : render(value));
  return EXIT.done;
}

export async function nodes(system: TroupeSystem, json: boolean, out: Output): Promise<number> {
  const live = (await system.nodes()).filter((node) => node.hosting || node.actors > 0);
  return print(out, json, live, (list) => table(['node', 'host:pid', 'actors', 'shards', 'heartbeat'],
    list.map((n) => [n.node, `${n.host}:${n.pid}`, String(n.actors), n.shards.join(',') || '-', `${Math.max(0, Date.now() - n.heartbeatAt)} ms ago`])));
}

export async function ps(system: TroupeSystem, prefix: string, json: boolean, out: Output): Promise<number> {
  // The client node this command runs on hosts nothing: every actor listed runs on a node of the system.
  const actors = (await system.actors()).filter((a) => a.node !== system.node && a.address.startsWith(prefix));
  return print(out, json, actors, (list) => table(['address', 'logic', 'state', 'status', 'cell', 'durable', 'queued', 'node'],
    list.map((a) => [a.address, a.logic, a.value || '-', a.status ?? '-', a.state, a.durable ? 'yes' : 'no', String(a.queued), a.node])));
}

export type EscrowAction = 'list' | 'approve' | 'reject' | 'retry';

/** What `troupe escrow` was asked to do: list the items, or decide one (who decides is recorded with it). */
export type EscrowRequest =
  | { readonly action: 'list' }
  | { readonly action: 'approve' | 'reject' | 'retry'; readonly itemId: string; readonly by: string; readonly reason?: string };

/** The request the arguments make, checked before connecting: a usage error needs no running system. */
export function escrowRequest(action: EscrowAction, itemId: string | undefined, options: { by?: string; reason?: string }): EscrowRequest {
  if (action === 'list') return { action };
  if (!itemId) throw new UsageError(`escrow ${action} needs the item id (see escrow list)`);
  if (!options.by) throw new UsageError(`escrow ${action} needs --by <your name>: decisions are recorded with who made them`);
  return { action, itemId, by: options.by, ...(options.reason === undefined ? {} : { reason: options.reason }) };
}

export async function escrow(system: TroupeSystem, request: EscrowRequest, options: { escrow?: string; json: boolean }, out: Output): Promise<number> {
  const client = system.escrow(options.escrow);
  if (request.action === 'list') {
    return print(out, options.json, await client.list(), (items) => table(['item', 'workflow', 'step', 'tier', 'level', 'due in'],
      items.map((i) => [i.id, i.workflowId, i.stepId, i.tier, String(i.level), `${Math.round((i.dueAt - Date.now()) / 1_000)} s`])));
  }
  const { itemId, by } = request;
  const outcome = request.action === 'approve' ? await client.approve(itemId, { by })
    : request.action === 'reject' ? await client.reject(itemId, { by, ...(request.reason === undefined ? {} : { reason: request.reason }) })
    : await client.retry(itemId, { by });
  out(options.json ? `${JSON.stringify({ itemId, outcome })}\n` : `${itemId}: ${outcome}\n`);
  return EXIT.done;
}

export type DlqAction = 'list' | 'replay';

/** What `troupe dlq` was asked to do, checked before connecting. */
export type DlqRequest = { readonly action: 'list' } | { readonly action: 'replay'; readonly seq: number };

export function dlqRequest(action: DlqAction, seq: number | undefined): DlqRequest {
  if (action === 'list') return { action };
  if (seq === undefined) throw new UsageError('dlq replay needs a dead letter\'s sequence (see dlq list)');
  return { action, seq };
}

export async function dlq(system: TroupeSystem, request: DlqRequest, options: { limit: number; json: boolean }, out: Output): Promise<number> {
  if (request.action === 'list') {
    return print(out, options.json, await system.deadLetters.list({ limit: options.limit }), (entries) => table(['seq', 'address', 'event', 'reason', 'at'],
      entries.map((e) => [String(e.dlqSeq), e.address ?? e.subject, e.event?.type ?? '?', e.reason, new Date(e.at).toISOString()])));
  }
  await system.deadLetters.redeliver(request.seq);
  out(options.json ? `${JSON.stringify({ replayed: request.seq })}\n` : `dead letter ${request.seq} sent to its actor again\n`);
  return EXIT.done;
}

export async function trace(system: TroupeSystem, workflowId: string, json: boolean, out: Output): Promise<number> {
  return print(out, json, await system.trace(workflowId), (entries) => {
    const start = entries[0]?.at ?? 0;
    return table(['+ms', 'kind', 'step', 'attempt', 'from', 'to', 'outcome'],
      entries.map((e) => [String(e.at - start), e.kind, e.step || '-', String(e.attempt), e.from, e.to, e.outcome]));
  });
}
