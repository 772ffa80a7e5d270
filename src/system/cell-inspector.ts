/**
 * Full XState inspection for one cell, attached on demand only (any inspect observer halves `send()`
 * throughput). The observer stays set across restarts and is attached to each new incarnation's system; a
 * throwing observer is switched off rather than allowed to break XState's processing.
 */
import type { AnyActor, InspectionEvent } from 'xstate';

export type InspectionObserver = (event: InspectionEvent) => void;

export class CellInspector {
  private observer: InspectionObserver | undefined;
  private subscription: { unsubscribe(): void } | undefined;

  constructor(private readonly onThrow: (error: unknown) => void) {}

  /** Sets (or with undefined clears) the observer; XState accepts observers live, so no restart is needed. */
  set(observer: InspectionObserver | undefined, actor: AnyActor | undefined): void {
    this.observer = observer;
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    if (observer && actor) this.attach(actor);
  }

  /** Attaches the current observer to an incarnation (before it starts, to see its first events). */
  attach(actor: AnyActor): void {
    const observer = this.observer;
    if (observer === undefined) return;
    this.subscription = actor.system.inspect((event: InspectionEvent) => {
      if (this.observer !== observer) return; // switched off or replaced
      try {
        observer(event);
      } catch (error) {
        this.observer = undefined;
        this.onThrow(error);
      }
    });
  }
}
