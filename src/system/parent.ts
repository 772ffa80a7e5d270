/**
 * The seam between the actor core and supervision (which sits a layer above and implements `Parent`).
 * The core reports what happened to a child; the parent decides what to do about it.
 */
import type { ActorFailedError } from '../errors.js';

/** OTP restart types: permanent is always restarted, transient only after a failure, temporary never. */
export type RestartType = 'permanent' | 'transient' | 'temporary';

export type RestartMode = 'initial' | 'last-good';

/** How a child left: an explicit stop (never restarted), or its logic reached a final state. */
export type ExitReason = 'stopped' | 'completed';

/**
 * Why an actor stopped, as `rt.actor.stopped` says: asked to, finished, the system shut down, its supervisor, or
 * its spawn was refused before it started (a service it names runs nowhere).
 */
export type StopReason = 'stopped' | 'completed' | 'shutdown' | 'supervisor' | 'refused';

/** Something a supervisor can restart: an actor cell, or another supervisor. */
export interface Child {
  readonly address: string;
  readonly restartType: RestartType;
  /** Time a stop may take before the child is abandoned, ms. */
  readonly shutdownMs: number;
  /** Ends the current incarnation for a restart: keeps the address and holds incoming messages. */
  terminate(): void;
  /** Starts a new incarnation and delivers the held messages, in order. */
  restart(mode: RestartMode): void;
  /**
   * Stops for good (for a supervisor: its children right to left). `notifyParent` false when the parent asked;
   * `reason` is what `rt.actor.stopped` reports (default: `stopped` when asked directly, else `supervisor`).
   */
  stop(notifyParent: boolean, reason?: StopReason): Promise<void>;
  /** The supervisor gave up on this child (a durable actor records it, so it is never resurrected). */
  abandon?(): void;
}

export interface Parent {
  readonly address: string;
  /** An unhandled failure of `child`; the child is held (mailbox kept) until the parent decides. */
  childFailed(child: Child, error: ActorFailedError): void;
  /** `child` exited normally and will not run again unless the parent restarts it. */
  childExited(child: Child, reason: ExitReason): void;
}
