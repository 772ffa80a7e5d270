/**
 * The inspection bus (issue 5): runtime events and actor snapshots -> bounded, batched, versioned wire records.
 *
 * Off by default and free when nobody listens: the bus attaches to the system (runtime events, one
 * `subscribe` observer per actor) when its first sink subscribes, and detaches when the last one leaves.
 * The cheap default captures snapshots from `subscribe` (nearly free) and the runtime's own events; full
 * XState inspection (events, microsteps, actions), which halves an actor's `send()` throughput, is switched
 * on per actor on demand (`inspect(address, true)`). Workflow traces are read from `system.localTrace()` (this node's
 * entries, synchronous) for the workflows whose snapshots changed in a batch, so trace records cost nothing for other actors.
 *
 * Sinks receive every sealed batch; each sink decides whether it can take it (a slow consumer drops, never
 * waits: see inspector/client-channel.ts). `resync()` gives the current state for a consumer that dropped.
 */
import type { InspectionEvent } from 'xstate';
import type { RuntimeEvent } from '../system/events.js';
import { Batcher, type Entry } from './batcher.js';
import { fromInspection, plainSnapshot, toPlain } from './convert.js';
import { createMasker, type Masker } from './mask.js';
import {
  STATELY_VERSION, WIRE_VERSION,
  type ActorState, type DefinitionMessage, type FinishedMessage, type ResyncMessage, type TraceEntryLike, type WireRecord, type WireTreeNode,
} from './wire.js';
import { deleteOldest } from '../oldest-entry.js';

/** What the bus needs of a system: `TroupeSystem` has it all (structural, so L3 needs nothing from L4). */
export interface InspectionSource {
  readonly name: string;
  readonly clock: { now(): number };
  subscribe(listener: (event: RuntimeEvent) => void): () => void;
  tree(): WireTreeNode;
  lookup(address: string): { getSnapshot(): unknown; subscribe(listener: (snapshot: any) => void): { unsubscribe(): void } }; // eslint-disable-line @typescript-eslint/no-explicit-any
  describe(address: string): { readonly logic: string; readonly version: number; readonly definition: unknown } | undefined;
  /** `describe` from whichever node runs the actor (a cluster); without it, only local actors are described. */
  describeAnywhere?(address: string): Promise<{ readonly logic: string; readonly version: number; readonly definition: unknown } | undefined>;
  inspect(address: string, observer: (event: InspectionEvent) => void): () => void;
  /** This node's recorded trace of a workflow, synchronously (`TroupeSystem.localTrace`). */
  localTrace(workflowId: string): readonly object[];
  /** Durable actors that finished, newest first (`TroupeSystem.finishedActors`): listed after the history moved on. */
  finishedActors?(options: { readonly limit: number }): Promise<ReadonlyArray<{ readonly address: string; readonly logic: string; readonly parent: string; readonly snapshot: unknown }>>;
  /** A workflow's whole trace, from the durable trace when there is one (`TroupeSystem.trace`). */
  trace?(workflowId: string): Promise<readonly object[]>;
}

export interface InspectionBusOptions {
  /** This node's name in records and batches (one inspector shows a whole cluster). Default 'local'. */
  readonly node?: string;
  /** A batch is sealed at most this long after its first record, ms. Default 50. */
  readonly batchMs?: number;
  /** ... or when it holds this many records. Default 1,000. */
  readonly batchMaxRecords?: number;
  /** Sealed records waiting to be handed out; past this the oldest are dropped (counted). Default 10,000. */
  readonly backlogMaxRecords?: number;
  /** Paths of sensitive fields to mask (see mask.ts), e.g. `['snapshot.context.customer.email', '**.password']`. */
  readonly mask?: readonly string[];
  /** Finished actors whose last state is kept for resyncs. Default 200. */
  readonly finishedKept?: number;
  /** Trace entries per workflow sent in a resync (the last ones). Default 200. */
  readonly traceTail?: number;
}

export interface SealedBatch {
  readonly node: string;
  readonly seq: number;
  readonly now: number;
  readonly records: readonly WireRecord[];
  /** `JSON.stringify(records)`, computed once for all consumers. */
  recordsJson(): string;
}

export interface BatchSink {
  batch(batch: SealedBatch): void;
  /** Records dropped before reaching any sink (the bus backlog was full). */
  lost?(count: number): void;
}

export interface InspectionStats {
  readonly captured: number;
  readonly coalesced: number;
  readonly produced: number;
  readonly lost: number;
  readonly batches: number;
  readonly attached: boolean;
}

/** One count of an actor's full inspection (`InspectionBus.hold`). */
export interface InspectionHold {
  /** False once released, or once the actor stopped (its full inspection ended with it). */
  readonly live: boolean;
  /** Gives the count back; idempotent. */
  release(): void;
}

interface FullInspection {
  count: number;
  readonly off: () => void;
}

interface Watched {
  readonly address: string;
  readonly logic: string;
  readonly parent: string | undefined;
  last: unknown;
  sub: { unsubscribe(): void } | undefined;
}

/** What a page needs to draw the node now: its actors, their snapshots and the recent records. */
export type InspectionState = Omit<ResyncMessage, 'counts' | 'reason'>;

export class InspectionBus {
  readonly node: string;
  private readonly sinks = new Set<BatchSink>();
  private readonly batcher: Batcher;
  private readonly mask: Masker | undefined;
  private readonly watched = new Map<string, Watched>();
  private readonly finished = new Map<string, ActorState>();
  private readonly definitions = new Map<string, unknown>();
  private readonly logicKeys = new Map<string, string>();
  private readonly traceSeen = new Map<string, number>();
  private readonly full = new Map<string, FullInspection>();
  private offEvents: (() => void) | undefined;
  private nextId = 0;
  private seq = 0;
  private produced = 0;
  private lostCount = 0;
  private readonly finishedKept: number;
  private readonly traceTail: number;

  constructor(
    private readonly source: InspectionSource,
    options: InspectionBusOptions = {},
  ) {
    this.node = options.node ?? 'local';
    this.mask = createMasker(options.mask);
    this.finishedKept = options.finishedKept ?? 200;
    this.traceTail = options.traceTail ?? 200;
    this.batcher = new Batcher({
      batchMs: options.batchMs ?? 50,
      batchMaxRecords: options.batchMaxRecords ?? 1_000,
      backlogMaxRecords: options.backlogMaxRecords ?? 10_000,
      emit: (entries) => this.emit(entries),
      lost: (count) => this.lose(count),
    });
  }

  get system(): string {
    return this.source.name;
  }

  /** True while someone listens (the bus is attached to the system). */
  get active(): boolean {
    return this.offEvents !== undefined;
  }

  /** The actors under full XState inspection now. */
  get inspected(): string[] {
    return [...this.full.keys()];
  }

  /** Adds a sink; the first one attaches the bus to the system. Returns the unsubscribe function. */
  subscribe(sink: BatchSink): () => void {
    this.sinks.add(sink);
    if (!this.active) this.attach();
    return () => {
      if (!this.sinks.delete(sink)) return;
      if (this.sinks.size === 0) this.detach();
    };
  }

  /** Switches full XState inspection of one actor on or off (reference counted); false when no actor is there. */
  inspect(address: string, on: boolean): boolean {
    const current = this.full.get(address);
    if (!on) {
      if (current) this.release(address, current);
      return current !== undefined;
    }
    if (current) {
      current.count++;
      return true;
    }
    return this.startFull(address) !== undefined;
  }

  /**
   * Holds full XState inspection of one actor on until `release()` (one count of `inspect`'s reference count);
   * undefined when no actor is there. The hold belongs to this actor's inspection: once the actor stopped,
   * `live` is false and `release()` does nothing, so a stale holder never switches off a later actor's at the
   * same address (issue 9: remote holders' leases can outlive the actor).
   */
  hold(address: string): InspectionHold | undefined {
    const existing = this.full.get(address);
    if (existing) existing.count++;
    const full = existing ?? this.startFull(address);
    if (full === undefined) return undefined;
    let released = false;
    const live = (): boolean => !released && this.full.get(address) === full;
    return {
      get live() {
        return live();
      },
      release: () => {
        if (released) return;
        released = true;
        if (this.full.get(address) === full) this.release(address, full);
      },
    };
  }

  private startFull(address: string): FullInspection | undefined {
    if (!this.active || this.source.lookup(address).getSnapshot() === undefined) return undefined;
    const off = this.source.inspect(address, (event) => this.onInspection(address, event));
    const full = { count: 1, off };
    this.full.set(address, full);
    return full;
  }

  private release(address: string, full: FullInspection): void {
    if (--full.count > 0) return;
    full.off();
    this.full.delete(address);
  }

  /** Records from outside (an XState app's `@statelyai/inspect` stream), passed through as they are. */
  ingest(records: readonly WireRecord[]): void {
    if (!this.active) return;
    for (const record of records) this.batcher.push(undefined, false, record, passThrough);
  }

  /** Seals and hands out what is pending now. */
  flush(): void {
    this.batcher.flush();
  }

  /** The machine definition of the actor at `address` (cached per logic and version; kept for finished actors). */
  describe(address: string): DefinitionMessage | undefined {
    const known = this.logicKeys.get(address);
    if (known !== undefined && this.definitions.has(known)) return { t: 'definition', v: WIRE_VERSION, address, key: known, definition: this.definitions.get(known) };
    const description = this.source.describe(address);
    if (description === undefined) return undefined;
    const key = `${description.logic}@${description.version}`;
    this.definitions.set(key, description.definition);
    this.logicKeys.set(address, key);
    return { t: 'definition', v: WIRE_VERSION, address, key, definition: description.definition };
  }

  /** `describe`, asking the node that runs the actor when it is not this one (cached alike). */
  async describeAnywhere(address: string): Promise<DefinitionMessage | undefined> {
    const local = this.describe(address);
    if (local !== undefined || this.source.describeAnywhere === undefined) return local;
    const description = await this.source.describeAnywhere(address);
    if (description === undefined) return undefined;
    const key = `${description.logic}@${description.version}`;
    this.definitions.set(key, description.definition);
    this.logicKeys.set(address, key);
    return { t: 'definition', v: WIRE_VERSION, address, key, definition: description.definition };
  }

  /** The current state: the supervision tree, each actor's latest snapshot, recent traces. */
  state(): InspectionState {
    const tree = this.source.tree();
    const actors: ActorState[] = [];
    const visit = (node: WireTreeNode, parent: string | undefined): void => {
      if (node.kind === 'supervisor') {
        for (const child of node.children) visit(child, node.address);
        return;
      }
      const raw = this.watched.get(node.address)?.last ?? this.source.lookup(node.address).getSnapshot();
      actors.push({ address: node.address, logic: node.logic, parent, snapshot: plainSnapshot(raw, this.mask), finished: false });
    };
    visit(tree, undefined);
    const live = new Set(actors.map((a) => a.address));
    for (const done of this.finished.values()) if (!live.has(done.address)) actors.push(done);
    const traces: Record<string, { from: number; entries: TraceEntryLike[] }> = {};
    for (const actor of actors) {
      const workflowId = workflowIdOf(actor.snapshot);
      if (workflowId === undefined) continue;
      const all = this.source.localTrace(workflowId);
      const from = Math.max(0, all.length - this.traceTail);
      traces[workflowId] = { from, entries: all.slice(from).map((e) => this.maskTrace(e)) };
    }
    return { t: 'resync', v: WIRE_VERSION, node: this.node, system: this.source.name, now: this.source.clock.now(), tree, actors, traces, inspected: this.inspected };
  }

  /**
   * The durable actors that finished, with their final snapshots and, for workflows, their traces (the durable
   * trace): a page opened after the history moved on, or after a restart, still lists them (issue 14).
   */
  async storedFinished(limit = 100): Promise<FinishedMessage> {
    const stored = (await this.source.finishedActors?.({ limit })) ?? [];
    const actors: ActorState[] = stored.map((a) => ({ address: a.address, logic: a.logic, parent: a.parent, snapshot: plainSnapshot(a.snapshot, this.mask), finished: true }));
    const trace = this.source.trace?.bind(this.source);
    const workflowIds = trace === undefined ? [] : actors.map((a) => workflowIdOf(a.snapshot)).filter((id): id is string => id !== undefined);
    // The traces are read side by side: one round trip to the durable trace, not one per workflow.
    const read = await Promise.all(workflowIds.map(async (id) => [id, (await trace!(id).catch(() => [])).map((e) => this.maskTrace(e))] as const));
    return { t: 'finished', v: WIRE_VERSION, node: this.node, actors, traces: Object.fromEntries(read) };
  }

  stats(): InspectionStats {
    return { captured: this.batcher.captured, coalesced: this.batcher.coalesced, produced: this.produced, lost: this.lostCount, batches: this.seq, attached: this.active };
  }

  /** Detaches from the system and forgets every sink. */
  close(): void {
    this.sinks.clear();
    this.detach();
  }

  // ---- attachment -------------------------------------------------------------------------------

  private attach(): void {
    this.offEvents = this.source.subscribe((event) => this.onRuntime(event));
    const visit = (node: WireTreeNode, parent: string | undefined): void => {
      if (node.kind === 'supervisor') for (const child of node.children) visit(child, node.address);
      else this.watch(node.address, node.logic, parent);
    };
    visit(this.source.tree(), undefined);
  }

  private detach(): void {
    this.offEvents?.();
    this.offEvents = undefined;
    for (const w of this.watched.values()) w.sub?.unsubscribe();
    this.watched.clear();
    for (const { off } of this.full.values()) off();
    this.full.clear();
    this.batcher.clear();
  }

  private watch(address: string, logic: string, parent: string | undefined): void {
    if (this.watched.has(address)) return;
    const w: Watched = { address, logic, parent, last: undefined, sub: undefined };
    this.watched.set(address, w);
    // Hot path: one closure per actor, a field write and a coalescing check per snapshot.
    w.sub = this.source.lookup(address).subscribe((snapshot: unknown) => {
      w.last = snapshot;
      if (!this.full.has(address)) this.batcher.push(address, true, snapshot, this.buildSnapshot);
    });
    w.last = this.source.lookup(address).getSnapshot();
  }

  private onRuntime(event: RuntimeEvent): void {
    const actor = 'address' in event ? event.address : 'child' in event ? event.child : undefined;
    if (event.type === 'rt.actor.spawned') {
      this.watch(event.address, event.logic, event.parent);
      this.batcher.push(event.address, false, event, this.buildActor);
    } else if (event.type === 'rt.actor.stopped') {
      const w = this.watched.get(event.address);
      if (w) this.forget(w);
    }
    this.batcher.push(actor, false, event, this.buildRuntime);
  }

  private forget(w: Watched): void {
    w.sub?.unsubscribe();
    this.watched.delete(w.address);
    this.finished.delete(w.address);
    this.finished.set(w.address, { address: w.address, logic: w.logic, parent: w.parent, snapshot: plainSnapshot(w.last, this.mask), finished: true });
    if (this.finished.size > this.finishedKept) deleteOldest(this.finished);
    const full = this.full.get(w.address);
    if (full) {
      full.off();
      this.full.delete(w.address);
    }
  }

  private onInspection(address: string, event: InspectionEvent): void {
    this.batcher.push(address, false, event, this.buildInspection);
  }

  // ---- building (at seal time) --------------------------------------------------------------------

  private readonly buildSnapshot = (entry: Entry, id: string): WireRecord => ({
    type: '@xstate.snapshot', sessionId: entry.actor!, rootId: entry.actor, createdAt: String(Date.now()), id, _version: STATELY_VERSION,
    event: { type: '' }, snapshot: plainSnapshot(entry.raw, this.mask),
  });

  private readonly buildActor = (entry: Entry, id: string): WireRecord => {
    const e = entry.raw as Extract<RuntimeEvent, { type: 'rt.actor.spawned' }>;
    this.describe(e.address); // caches the definition while the actor is there (once per logic)
    return {
      type: '@xstate.actor', name: e.logic, sessionId: e.address, parentId: e.parent, rootId: e.address, createdAt: String(Date.now()), id,
      _version: STATELY_VERSION, definition: undefined, snapshot: plainSnapshot(this.source.lookup(e.address).getSnapshot(), this.mask),
    };
  };

  private readonly buildRuntime = (entry: Entry, id: string): WireRecord => {
    const plain = toPlain(entry.raw) as Extract<WireRecord, { type: 'troupe.runtime' }>['event'];
    return { type: 'troupe.runtime', id, node: this.node, event: this.mask ? this.mask('runtime', plain) : plain };
  };

  private readonly buildInspection = (entry: Entry, id: string): WireRecord | undefined =>
    fromInspection(entry.actor!, entry.raw as InspectionEvent, id, String(Date.now()), this.mask);

  private emit(entries: Entry[]): void {
    const records: WireRecord[] = [];
    const workflows = new Set<string>();
    for (const entry of entries) {
      const record = entry.build(entry, `${this.node}:${this.nextId++}`) as WireRecord | undefined;
      if (record === undefined) continue;
      records.push(record);
      if (record.type === '@xstate.snapshot') collectWorkflows(record.snapshot, workflows);
    }
    for (const workflowId of workflows) this.appendTrace(workflowId, records);
    if (records.length === 0) return;
    this.produced += records.length;
    let json: string | undefined;
    const batch: SealedBatch = { node: this.node, seq: ++this.seq, now: this.source.clock.now(), records, recordsJson: () => (json ??= JSON.stringify(records)) };
    for (const sink of this.sinks) {
      try {
        sink.batch(batch);
      } catch {
        // A sink's failure is its own business (its channel closes); the others still get the batch.
      }
    }
  }

  private appendTrace(workflowId: string, records: WireRecord[]): void {
    const all = this.source.localTrace(workflowId);
    const seen = this.traceSeen.get(workflowId) ?? 0;
    for (let index = seen; index < all.length; index++) {
      records.push({ type: 'troupe.trace', id: `${this.node}:${this.nextId++}`, workflowId, index, entry: this.maskTrace(all[index]!) });
    }
    this.traceSeen.delete(workflowId);
    this.traceSeen.set(workflowId, all.length);
    if (this.traceSeen.size > 10_000) deleteOldest(this.traceSeen);
  }

  private maskTrace(entry: object): TraceEntryLike {
    return (this.mask ? this.mask('trace', entry) : entry) as TraceEntryLike;
  }

  private lose(count: number): void {
    this.lostCount += count;
    this.produced += count;
    for (const sink of this.sinks) sink.lost?.(count);
  }
}

function passThrough(entry: Entry): unknown {
  return entry.raw;
}

function workflowIdOf(snapshot: { context?: unknown } | undefined): string | undefined {
  const context = snapshot?.context as { workflowId?: unknown; steps?: unknown } | undefined;
  return typeof context?.workflowId === 'string' && typeof context.steps === 'object' ? context.workflowId : undefined;
}

/** Workflows whose trace may have grown: the workflow itself, or those with items in an escrow. */
function collectWorkflows(snapshot: { context?: unknown }, into: Set<string>): void {
  const id = workflowIdOf(snapshot);
  if (id !== undefined) into.add(id);
  const items = (snapshot.context as { items?: unknown } | undefined)?.items;
  if (typeof items === 'object' && items !== null) {
    for (const item of Object.values(items as Record<string, { workflowId?: unknown }>)) {
      if (typeof item?.workflowId === 'string') into.add(item.workflowId);
    }
  }
}

/**
 * Creates the inspection bus of a system (detached until its first sink subscribes).
 * @example
 * const bus = createInspectionBus(system, { mask: ['**.password'] });
 * const off = bus.subscribe({ batch: (b) => socket.send(b.recordsJson()) });
 */
export function createInspectionBus(source: InspectionSource, options?: InspectionBusOptions): InspectionBus {
  return new InspectionBus(source, options);
}
