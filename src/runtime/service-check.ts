/**
 * Spawn-time check of the addresses a logic says it will talk to (issue 13: a workflow whose escrow does not exist
 * escalated into the void and waited for ever). A logic declares them with `troupeServices(input, address)` —
 * `troupe/machines` workflows do (their escrow when some step can escalate, breakers, fallback, verifier and
 * summarizer agents). On the embedded default every address lives in this process, so the check is synchronous and
 * `spawn` throws. On NATS another node may host it: the actor is held (messages queue) while the nodes are asked,
 * and it starts once every service is found; if one is found nowhere, it never starts and `ref.ready` rejects.
 */
import type { AnyActorLogic } from 'xstate';
import { InvalidChildSpecError } from '../errors.js';

export interface ServiceAddress {
  /** The definition field that names it, e.g. `escrow`, `steps.charge.breaker`. */
  readonly role: string;
  readonly address: string;
}

type Declares = { troupeServices?: (input: unknown, address: string) => readonly ServiceAddress[] };

/** The declared services of a logic spawned at `address` (none when it declares none). */
export function declaredServices(logic: AnyActorLogic, address: string, input: unknown): readonly ServiceAddress[] {
  const services = (logic as Declares).troupeServices;
  return typeof services === 'function' ? services(input, address) : [];
}

/** The error a spawn fails with when `service` resolves nowhere: it names the field, the address and the fix. */
export function missingService(address: string, service: ServiceAddress): InvalidChildSpecError {
  const hint = service.role === 'escrow'
    ? `spawn an escrow there first (system.spawn(escrow, { id: 'escrow' }) for the default), or name another with the definition's or the input's escrow`
    : 'spawn it before the workflow';
  return new InvalidChildSpecError(address, service.role, `names ${service.address}, where nothing runs: ${hint}`);
}

/** Throws InvalidChildSpecError naming the field and the address when a declared service is not running here. */
export function checkServices(logic: AnyActorLogic, address: string, input: unknown, isRunning: (address: string) => boolean): void {
  for (const service of declaredServices(logic, address, input)) {
    if (!isRunning(service.address)) throw missingService(address, service);
  }
}

/** How long a spawn on NATS waits for a service it names to appear on some node, ms (spawns race across nodes). */
export const SERVICE_GRACE_MS = 2_000;

export interface RemoteCheckOptions {
  /** Whether some node hosts the address now (a live actor, or a stored durable one). */
  readonly hosted: (address: string) => Promise<boolean>;
  /**
   * How long a service may take to appear: spawns race across nodes (an escrow spawned from one node a moment
   * before a workflow from another), so a miss is asked again until this passes. ms.
   */
  readonly graceMs: number;
  readonly pollMs?: number;
}

/**
 * The NATS form of the check: services not running in this process may run on another node. Resolves once each
 * one is hosted somewhere; rejects with the spawn's InvalidChildSpecError when one is still nowhere after the grace.
 */
export async function awaitServices(address: string, services: readonly ServiceAddress[], options: RemoteCheckOptions): Promise<void> {
  const deadline = Date.now() + options.graceMs;
  for (const service of services) {
    while (!(await options.hosted(service.address))) {
      if (Date.now() >= deadline) throw missingService(address, service);
      await new Promise<void>((resolve) => setTimeout(resolve, options.pollMs ?? 100));
    }
  }
}
