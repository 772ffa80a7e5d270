/**
 * Human decisions from the UI (issue 5): the only commands the inspector accepts. Each is checked (shape,
 * sizes, the item must be waiting in that escrow's current state) and told to the escrow actor as the escrow
 * machine defines (machines/escrow.ts), which then tells the waiting workflow.
 *   approve -> escrow.approve          edit -> escrow.approve with the edited `output`
 *   reject  -> escrow.reject (reason)  retry -> escrow.retry
 */
import type { EscrowDecisionEvent, TroupeSystem } from '../src/index.js';
import type { DecideRequest, Decision } from '../src/inspection/wire.js';

export const DECISION_LIMITS = Object.freeze({ idChars: 200, reasonChars: 2_000, byChars: 100, outputBytes: 32 * 1024 });

const DECISIONS: readonly Decision[] = ['approve', 'reject', 'edit', 'retry'];
const ADDRESS = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)+$/;

export type DecisionOutcome = { ok: true } | { ok: false; error: string };

/**
 * Validates a decision and tells it to the escrow; never rejects. An escrow this node does not run (another node of a
 * cluster, issue 9) is decided through `system.escrow(address)`, whose answer says whether the item was waiting.
 */
export async function decide(system: TroupeSystem, request: DecideRequest): Promise<DecisionOutcome> {
  const problem = check(request);
  if (problem) return { ok: false, error: problem };
  const escrow = system.lookup(request.escrow);
  const snapshot = escrow.getSnapshot() as { context?: { items?: unknown } } | undefined;
  if (snapshot === undefined && system.transport.kind !== 'memory') return decideElsewhere(system, request);
  const items = (snapshot?.context?.items ?? undefined) as Record<string, unknown> | undefined;
  if (items === undefined || typeof items !== 'object') return { ok: false, error: `${request.escrow} is not an escrow here` };
  if (!Object.hasOwn(items, request.itemId)) return { ok: false, error: `no item ${request.itemId} is waiting in ${request.escrow}` };
  // As `system.escrow().approve` does (issue 13): a decision that would continue a workflow that is gone fails here,
  // leaving the item; a rejection clears it. Only where every actor is in this process is "gone" known.
  const waiting = (items[request.itemId] as { replyTo?: unknown }).replyTo;
  if (request.decision !== 'reject' && system.transport.kind === 'memory' && typeof waiting === 'string' && system.lookup(waiting).getSnapshot() === undefined) {
    return { ok: false, error: `the workflow waiting for ${request.itemId} (${waiting}) is gone: reject the item to clear it` };
  }
  const by = request.by ?? 'inspector';
  const event: EscrowDecisionEvent =
    request.decision === 'approve' ? { type: 'escrow.approve', itemId: request.itemId, by }
    : request.decision === 'edit' ? { type: 'escrow.approve', itemId: request.itemId, output: request.output, by }
    : request.decision === 'reject' ? { type: 'escrow.reject', itemId: request.itemId, reason: request.reason ?? 'rejected in the inspector', by }
    : { type: 'escrow.retry', itemId: request.itemId, by };
  try {
    escrow.tell(event);
    return { ok: true };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

/** The decision, asked of the escrow wherever it runs; its answer (or refusal) is the outcome. */
async function decideElsewhere(system: TroupeSystem, request: DecideRequest): Promise<DecisionOutcome> {
  const by = request.by ?? 'inspector';
  try {
    const client = system.escrow(request.escrow);
    if (request.decision === 'reject') await client.reject(request.itemId, { by, reason: request.reason ?? 'rejected in the inspector' });
    else if (request.decision === 'retry') await client.retry(request.itemId, { by });
    else await client.approve(request.itemId, { by, ...(request.decision === 'edit' ? { output: request.output } : {}) });
    return { ok: true };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

function check(r: DecideRequest): string | undefined {
  if (typeof r.escrow !== 'string' || r.escrow.length > DECISION_LIMITS.idChars || !ADDRESS.test(r.escrow)) return 'escrow must be an actor address';
  if (typeof r.itemId !== 'string' || r.itemId.length === 0 || r.itemId.length > DECISION_LIMITS.idChars) return `itemId must be a string of at most ${DECISION_LIMITS.idChars} characters`;
  if (!DECISIONS.includes(r.decision)) return `decision must be one of ${DECISIONS.join(', ')}`;
  if (r.reason !== undefined && (typeof r.reason !== 'string' || r.reason.length > DECISION_LIMITS.reasonChars)) return `reason must be a string of at most ${DECISION_LIMITS.reasonChars} characters`;
  if (r.by !== undefined && (typeof r.by !== 'string' || r.by.length > DECISION_LIMITS.byChars)) return `by must be a string of at most ${DECISION_LIMITS.byChars} characters`;
  if (r.decision === 'edit') {
    if (r.output === undefined) return 'edit needs an output';
    if (Buffer.byteLength(JSON.stringify(r.output)) > DECISION_LIMITS.outputBytes) return `output must be at most ${DECISION_LIMITS.outputBytes} bytes of JSON`;
  }
  return undefined;
}
