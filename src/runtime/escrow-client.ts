/**
 * `system.escrow(address?)` (issue 13): the typed API to the human queue — list what waits, decide one item. Every
 * decision is an ask with a receipt, so a decision for an item the escrow does not hold rejects with
 * UnknownEscrowItemError instead of vanishing, and one for an address with no escrow fails fast (DeadLetterError).
 */
import { DeadLetterError, errorFromPlain, InvalidAddressError } from '../errors.js';
import { DEFAULT_ESCROW_ID, type EscrowDecisionEvent, type EscrowItem, type EscrowOutcome, type EscrowReceipt } from '../escrow-protocol.js';
import type { AskOptions } from '../system/actor-ref.js';

/** A person's decision on one item; `by` names who decided (it is in the trace and told to the workflow). */
export type EscrowDecision =
  | { readonly decision: 'approve'; readonly by: string; /** An edited output replacing the step's. */ readonly output?: unknown }
  | { readonly decision: 'reject'; readonly by: string; readonly reason?: string }
  | { readonly decision: 'retry'; readonly by: string };

export interface EscrowClient {
  /** The escrow's address. */
  readonly address: string;
  /** The items waiting, in submission order. */
  list(options?: AskOptions): Promise<EscrowItem[]>;
  /**
   * Decides one item; resolves with what the workflow was told (`approved`, `rejected`, `retry`). Rejects with
   * UnknownEscrowItemError for an item not waiting there (never submitted, already decided), and an approval or
   * retry with DeadLetterError when the workflow waiting for it is gone (the item stays; a rejection clears it).
   */
  decide(itemId: string, decision: EscrowDecision, options?: AskOptions): Promise<EscrowOutcome>;
  approve(itemId: string, options: { readonly by: string; readonly output?: unknown }): Promise<EscrowOutcome>;
  reject(itemId: string, options: { readonly by: string; readonly reason?: string }): Promise<EscrowOutcome>;
  retry(itemId: string, options: { readonly by: string }): Promise<EscrowOutcome>;
}

/** What the client needs of the system: asking an address, and whether one is known to be gone. */
export interface EscrowHost {
  readonly name: string;
  ask(address: string, event: EscrowDecisionEvent | { readonly type: 'escrow.list' }, options: AskOptions | undefined): Promise<unknown>;
  /** Why a decision could not reach `address` (nothing runs there, and nothing would store it), or undefined. */
  unreachable(address: string): string | undefined;
}

/** `address` defaults to the system's default escrow, `<system>/escrow`. */
export function escrowClient(host: EscrowHost, address = `${host.name}/${DEFAULT_ESCROW_ID}`): EscrowClient {
  if (!address.startsWith(`${host.name}/`)) throw new InvalidAddressError(address, `an escrow of system ${host.name} lives at ${host.name}/<path>`);
  const decide = async (itemId: string, d: EscrowDecision, options?: AskOptions): Promise<EscrowOutcome> => {
    const event: EscrowDecisionEvent =
      d.decision === 'approve' ? { type: 'escrow.approve', itemId, by: d.by, receipt: true, ...('output' in d ? { output: d.output } : {}) }
      : d.decision === 'reject' ? { type: 'escrow.reject', itemId, by: d.by, receipt: true, ...(d.reason === undefined ? {} : { reason: d.reason }) }
      : { type: 'escrow.retry', itemId, by: d.by, receipt: true };
    // A decision that would continue a workflow must reach it (issue 13: the runtime's own messages fail loudly):
    // one whose workflow is gone fails here, before the item leaves the queue. A rejection still goes through, so a
    // person can clear the item of a workflow that no longer waits.
    if (d.decision !== 'reject') {
      const item = ((await host.ask(address, { type: 'escrow.list' }, options)) as EscrowItem[]).find((i) => i.id === itemId);
      const why = item === undefined ? undefined : host.unreachable(item.replyTo);
      if (item !== undefined && why !== undefined) throw new DeadLetterError(item.replyTo, `the workflow waiting for ${itemId} cannot take the decision: ${why}`);
    }
    const receipt = (await host.ask(address, event, options)) as EscrowReceipt;
    if (!receipt.ok) throw errorFromPlain(receipt.error);
    return receipt.outcome;
  };
  return {
    address,
    list: async (options) => (await host.ask(address, { type: 'escrow.list' }, options)) as EscrowItem[],
    decide,
    approve: (itemId, o) => decide(itemId, 'output' in o ? { decision: 'approve', by: o.by, output: o.output } : { decision: 'approve', by: o.by }),
    reject: (itemId, o) => decide(itemId, o.reason === undefined ? { decision: 'reject', by: o.by } : { decision: 'reject', by: o.by, reason: o.reason }),
    retry: (itemId, o) => decide(itemId, { decision: 'retry', by: o.by }),
  };
}
