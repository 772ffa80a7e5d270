/**
 * The batcher: captured entries -> sealed batches of wire records (issue 5).
 *
 * Capturing is the hot path (it runs inside an actor's processing), so it only stores a reference: a
 * snapshot of an actor replaces that actor's previous snapshot entry in place when nothing else about the
 * actor came between them (coalescing; events and runtime records are never coalesced). A batch is sealed
 * after `batchMs` or at `batchMaxRecords` entries; records are built (serialized, masked) off the hot path.
 * Sealed entries wait at most `backlogMaxRecords`: past that the oldest are dropped, and every sink is told
 * how many (`lost`), so each consumer's `delivered + dropped = produced` still holds.
 */

export interface Entry {
  /** The Troupe actor the entry is about (for coalescing), if any. */
  readonly actor: string | undefined;
  /** Successive coalescable entries of one actor merge: the later `raw` wins. */
  readonly coalescable: boolean;
  raw: unknown;
  /** Builds the wire record (at seal time, off the hot path); undefined to skip it. */
  readonly build: (entry: Entry, id: string) => unknown;
}

export interface BatcherOptions {
  readonly batchMs: number;
  readonly batchMaxRecords: number;
  readonly backlogMaxRecords: number;
  /** Builds and hands out one sealed group of entries. */
  readonly emit: (entries: Entry[]) => void;
  /** Sealed entries dropped because the backlog was full. */
  readonly lost: (count: number) => void;
}

export class Batcher {
  captured = 0;
  coalesced = 0;
  private entries: Entry[] = [];
  private lastByActor = new Map<string, number>();
  private sealed: Entry[][] = [];
  private sealedCount = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private immediate: ReturnType<typeof setImmediate> | undefined;

  constructor(private readonly options: BatcherOptions) {}

  /**
   * Adds one entry; a coalescable one replaces the actor's pending coalescable entry when nothing else about
   * the actor came after it (no allocation then: this runs once per handled message of a watched actor).
   */
  push(actor: string | undefined, coalescable: boolean, raw: unknown, build: Entry['build']): void {
    this.captured++;
    if (actor !== undefined) {
      const index = this.lastByActor.get(actor);
      if (coalescable && index !== undefined) {
        const previous = this.entries[index];
        if (previous !== undefined && previous.coalescable) {
          previous.raw = raw;
          this.coalesced++;
          return;
        }
      }
      this.lastByActor.set(actor, this.entries.length);
    }
    this.entries.push({ actor, coalescable, raw, build });
    if (this.entries.length >= this.options.batchMaxRecords) {
      this.seal();
      this.immediate ??= setImmediate(() => this.drainSealed());
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.options.batchMs);
      this.timer.unref?.();
    }
  }

  /** Seals what is pending and hands every sealed batch out now. */
  flush(): void {
    this.seal();
    this.drainSealed();
  }

  /** Drops everything pending (detached: nobody listens). */
  clear(): void {
    this.entries = [];
    this.lastByActor.clear();
    this.sealed = [];
    this.sealedCount = 0;
    this.cancelTimers();
  }

  private seal(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.entries.length === 0) return;
    this.sealed.push(this.entries);
    this.sealedCount += this.entries.length;
    this.entries = [];
    this.lastByActor.clear();
    while (this.sealedCount > this.options.backlogMaxRecords && this.sealed.length > 1) {
      const oldest = this.sealed.shift()!;
      this.sealedCount -= oldest.length;
      this.options.lost(oldest.length);
    }
  }

  private drainSealed(): void {
    if (this.immediate !== undefined) {
      clearImmediate(this.immediate);
      this.immediate = undefined;
    }
    const groups = this.sealed;
    this.sealed = [];
    this.sealedCount = 0;
    for (const group of groups) this.options.emit(group);
  }

  private cancelTimers(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }
}
