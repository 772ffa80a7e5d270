/**
 * A client's full-inspection switch (`{ t: 'inspect', address, on }`): an actor of this node is held on the local
 * bus; an actor another node runs is held on that node (issue 9, `system.holdRemoteInspection`), whose published
 * records reach the client through the cluster relay. Each client's holds are its own, one per address, and all of
 * them are released when it leaves; a remote hold is a lease the runtime renews, so a crash of this process ends it too.
 */
import type { InspectionBus, TroupeSystem } from '../src/index.js';

/** One client's hold on one actor; `node` is the remote node that runs it (undefined: this node). */
export interface ClientHold {
  readonly node?: string;
  release(): void;
}

export type SwitchOutcome = { readonly ok: true } | { readonly ok: false; readonly error: string };

export interface InspectOptions {
  /** The lease of a remote hold, ms (renewed every third of it). Default: the runtime's (15,000). */
  readonly leaseMs?: number;
}

export async function switchInspection(
  system: TroupeSystem, bus: InspectionBus, holds: Map<string, ClientHold>, address: string, on: boolean, options: InspectOptions = {},
): Promise<SwitchOutcome> {
  if (!on) {
    holds.get(address)?.release();
    holds.delete(address);
    return { ok: true };
  }
  if (holds.has(address)) return { ok: true };
  let local: ClientHold | undefined;
  try {
    local = bus.hold(address);
  } catch (error) {
    return { ok: false, error: (error as Error).message }; // an invalid address
  }
  if (local) {
    holds.set(address, local);
    return { ok: true };
  }
  // Until the hosting node answers, a placeholder: an `off` or the client leaving meanwhile releases the answer.
  let released = false;
  const placeholder: ClientHold = { release: () => void (released = true) };
  holds.set(address, placeholder);
  const settle = (): void => void (holds.get(address) === placeholder && holds.delete(address));
  try {
    const held = await system.holdRemoteInspection(address, options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs });
    if (!held.ok) {
      settle();
      return { ok: false, error: held.message };
    }
    if (released) held.release();
    else holds.set(address, held);
    return { ok: true };
  } catch (error) {
    settle();
    return { ok: false, error: (error as Error).message };
  }
}
