/**
 * Full XState inspection for one cell, attached on demand only (any inspect observer halves `send()`
 * throughput). Several observers may inspect one actor (a local inspector's bus and the published one a remote
 * inspector holds): they share one XState subscription, made while at least one is set and kept across restarts
 * (attached to each new incarnation's system). A throwing observer is switched off alone rather than allowed to break
 * XState's processing; the others keep theirs.
 */
import type { AnyActor, InspectionEvent } from 'xstate';

export type InspectionObserver = (event: InspectionEvent) => void;

export class CellInspector {
  private readonly observers = new Set<InspectionObserver>();
  private subscription: { unsubscribe(): void } | undefined;

  constructor(private readonly onThrow: (error: unknown) => void) {}

  /** Adds an observer (XState accepts observers live, so no restart is needed); returns its removal. */
  add(observer: InspectionObserver, actor: AnyActor | undefined): () => void {
    this.observers.add(observer);
    if (this.subscription === undefined && actor) this.attach(actor);
    return () => {
      // Gone already when it threw; the last one out detaches from XState.
      if (this.observers.delete(observer) && this.observers.size === 0) this.detach();
    };
  }

  /** Attaches the observers to an incarnation (before it starts, to see its first events). */
  attach(actor: AnyActor): void {
    if (this.observers.size === 0) return;
    this.subscription?.unsubscribe();
    this.subscription = actor.system.inspect((event: InspectionEvent) => {
      for (const observer of this.observers) {
        try {
          observer(event);
        } catch (error) {
          this.observers.delete(observer);
          this.onThrow(error);
        }
      }
      if (this.observers.size === 0) this.detach();
    });
  }

  private detach(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }
}
