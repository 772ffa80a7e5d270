/**
 * Spawn-time check of the addresses a logic says it will talk to (issue 13: a workflow whose escrow does not exist
 * escalated into the void and waited for ever). A logic declares them with `troupeServices(input, address)` —
 * `troupe/machines` workflows do (their escrow when some step can escalate, breakers, fallback, verifier and
 * summarizer agents). Only where every address lives in this process (the embedded default) is a missing one
 * known to be missing: on NATS another node may host it, and a message it cannot take fails the step when sent.
 */
import type { AnyActorLogic } from 'xstate';
import { InvalidChildSpecError } from '../errors.js';

export interface ServiceAddress {
  /** The definition field that names it, e.g. `escrow`, `steps.charge.breaker`. */
  readonly role: string;
  readonly address: string;
}

type Declares = { troupeServices?: (input: unknown, address: string) => readonly ServiceAddress[] };

/** Throws InvalidChildSpecError naming the field and the address when a declared service is not running here. */
export function checkServices(logic: AnyActorLogic, address: string, input: unknown, isRunning: (address: string) => boolean): void {
  const services = (logic as Declares).troupeServices;
  if (typeof services !== 'function') return;
  for (const service of services(input, address)) {
    if (isRunning(service.address)) continue;
    const hint = service.role === 'escrow'
      ? `spawn an escrow there first (system.spawn(escrow, { id: 'escrow' }) for the default), or name another with the definition's or the input's escrow`
      : 'spawn it before the workflow';
    throw new InvalidChildSpecError(address, service.role, `names ${service.address}, where nothing runs: ${hint}`);
  }
}
