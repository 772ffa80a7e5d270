/**
 * A cell's user listeners: snapshot subscribers and listeners for events the machine emits. They live on the
 * cell, not on an incarnation, so they keep listening across restarts. Created on first use: most actors have none.
 */
import type { EventObject, Snapshot } from 'xstate';

export type SnapshotListener = (snapshot: Snapshot<unknown>) => void;
export type EmittedListener = (event: EventObject) => void;

export class CellListeners {
  private snapshots: Set<SnapshotListener> | undefined;
  private emitted: Map<string, Set<EmittedListener>> | undefined;

  get watchesSnapshots(): boolean {
    return this.snapshots !== undefined && this.snapshots.size > 0;
  }

  subscribe(listener: SnapshotListener): () => void {
    (this.snapshots ??= new Set()).add(listener);
    return () => void this.snapshots?.delete(listener);
  }

  /** `type` may be `'*'` for every emitted event. */
  on(type: string, listener: EmittedListener): () => void {
    this.emitted ??= new Map();
    let set = this.emitted.get(type);
    if (!set) this.emitted.set(type, (set = new Set()));
    set.add(listener);
    return () => void set.delete(listener);
  }

  /** Calls every snapshot listener; a throwing one is removed and its error handed to `onThrow`. */
  notifySnapshot(snapshot: Snapshot<unknown>, onThrow: (error: unknown) => void): void {
    const listeners = this.snapshots;
    if (listeners === undefined) return;
    for (const listener of listeners) {
      try {
        listener(snapshot);
      } catch (error) {
        listeners.delete(listener);
        onThrow(error);
      }
    }
  }

  /** Calls the listeners of `event.type`, then the `'*'` ones; a throw propagates to the caller. */
  notifyEmitted(event: EventObject): void {
    const set = this.emitted?.get(event.type);
    const all = this.emitted?.get('*');
    if (set) for (const listener of set) listener(event);
    if (all && all !== set) for (const listener of all) listener(event);
  }
}
