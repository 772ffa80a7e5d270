/**
 * The latest state of one remote node, built from the records it publishes (issue 5), so a UI resync shows
 * the remote nodes as well as the local one. Bounded: at most `maxActors` actors and supervisors and
 * `maxWorkflows` workflow traces of `traceTail` entries each; the least recently updated go first.
 *
 * What it can show is what arrived after the inspector subscribed (publishing is at-most-once, and nothing
 * is replayed): an actor appears once it was spawned or changed state since then, with its latest snapshot;
 * its logic is `?` until its spawn record was seen; supervisors that started earlier appear as placeholders
 * (strategy `unknown`, restarts counted from then on) at the addresses their children's paths name; trace
 * entries start where the inspector came in. Idle actors that neither spawned nor changed since stay unseen.
 */
import type { ActorState, BatchMessage, ResyncMessage, TraceEntryLike, WireRecord, WireSnapshot, WireTreeNode } from '../src/inspection/wire.js';

export interface RemoteNodeLimits {
  /** Actors and supervisors kept per node. Default 5,000. */
  readonly maxActors?: number;
  /** Workflows whose trace tail is kept per node. Default 1,000. */
  readonly maxWorkflows?: number;
  /** Trace entries kept per workflow (the last ones). Default 200. */
  readonly traceTail?: number;
}

interface RemoteActor {
  logic: string;
  parent: string | undefined;
  snapshot: WireSnapshot;
  state: 'running' | 'held' | 'stopped';
  incarnation: number;
  finished: boolean;
}

interface RemoteSupervisor {
  strategy: string;
  parent: string | undefined;
  state: 'running' | 'held' | 'stopped';
  restarts: number;
}

/** A `WireTreeNode` under construction. */
interface MutableTree {
  kind: 'actor' | 'supervisor';
  address: string;
  children?: MutableTree[];
  [field: string]: unknown;
}

export class RemoteNodeState {
  private readonly actors = new Map<string, RemoteActor>();
  private readonly supervisors = new Map<string, RemoteSupervisor>();
  private readonly traces = new Map<string, { from: number; entries: TraceEntryLike[] }>();
  private readonly maxActors: number;
  private readonly maxWorkflows: number;
  private readonly traceTail: number;
  /** The node's clock in its last batch, and our clock when it arrived. */
  private lastNow = 0;
  private receivedAt = 0;

  constructor(
    readonly node: string,
    private readonly system: string,
    limits: RemoteNodeLimits = {},
  ) {
    this.maxActors = limits.maxActors ?? 5_000;
    this.maxWorkflows = limits.maxWorkflows ?? 1_000;
    this.traceTail = limits.traceTail ?? 200;
  }

  /** Applies a validated batch (see `parseBatchMessage`). */
  apply(batch: BatchMessage): void {
    this.lastNow = batch.now;
    this.receivedAt = Date.now();
    for (const record of batch.records) this.record(record);
  }

  /** The node's current state as far as it is known, in the shape of a resync. */
  state(): Omit<ResyncMessage, 'counts' | 'reason'> {
    const actors: ActorState[] = [];
    for (const [address, a] of this.actors) actors.push({ address, logic: a.logic, parent: this.parentOf(address, a.parent), snapshot: a.snapshot, finished: a.finished });
    return {
      t: 'resync', v: 1, node: this.node, system: this.system, now: this.lastNow + (Date.now() - this.receivedAt),
      tree: this.tree() as unknown as WireTreeNode, actors, traces: Object.fromEntries(this.traces), inspected: [],
    };
  }

  /** How many actors and supervisors are kept. */
  get size(): number {
    return this.actors.size + this.supervisors.size;
  }

  private record(r: WireRecord): void {
    switch (r.type) {
      case '@xstate.actor':
      case '@xstate.snapshot': {
        if (r.sessionId.includes('#')) return; // an XState child inside a Troupe actor
        const actor = this.touch(r.sessionId);
        actor.snapshot = r.snapshot;
        if (r.type === '@xstate.actor') {
          actor.logic = r.name;
          if (typeof r.parentId === 'string') actor.parent = r.parentId;
          actor.finished = false;
          actor.state = 'running';
        }
        return;
      }
      case 'troupe.runtime':
        return this.runtime(r.event);
      case 'troupe.trace':
        return this.trace(r.workflowId, r.index, r.entry);
      default:
        return;
    }
  }

  private runtime(e: { readonly type: string; readonly [key: string]: unknown }): void {
    const address = typeof e['address'] === 'string' ? e['address'] : undefined;
    switch (e.type) {
      case 'rt.actor.spawned':
        if (address === undefined) return;
        Object.assign(this.touch(address), { logic: stringOr(e['logic'], '?'), parent: stringOr(e['parent'], undefined), state: 'running', finished: false });
        return;
      case 'rt.actor.stopped': {
        const actor = address === undefined ? undefined : this.actors.get(address);
        if (actor) Object.assign(actor, { state: 'stopped', finished: true });
        return;
      }
      case 'rt.actor.failed':
        if (address !== undefined) this.touch(address).state = 'held';
        return;
      case 'rt.actor.restarted':
        if (address === undefined) return;
        Object.assign(this.touch(address), { state: 'running', incarnation: typeof e['incarnation'] === 'number' ? e['incarnation'] : 0 });
        return;
      case 'rt.supervisor.started':
        if (address === undefined) return;
        this.supervisor(address, { strategy: stringOr(e['strategy'], 'unknown'), parent: stringOr(e['parent'], undefined), state: 'running', restarts: 0 });
        return;
      case 'rt.supervisor.decision': {
        const supervisor = typeof e['supervisor'] === 'string' ? e['supervisor'] : undefined;
        if (supervisor !== undefined && e['directive'] === 'restart') this.supervisor(supervisor).restarts++;
        return;
      }
      case 'rt.supervisor.failed': {
        const supervisor = typeof e['supervisor'] === 'string' ? this.supervisors.get(e['supervisor']) : undefined;
        if (supervisor) supervisor.state = 'held';
        return;
      }
      case 'rt.system.shutdown':
      case 'rt.system.failed':
        // The node is gone: its actors keep their last state, shown as finished.
        for (const actor of this.actors.values()) Object.assign(actor, { state: 'stopped', finished: true });
        this.supervisors.clear();
        return;
      default:
        return;
    }
  }

  /** The actor at `address`, created when new, moved to the most recently updated end (LRU bound). */
  private touch(address: string): RemoteActor {
    let actor = this.actors.get(address);
    if (actor) this.actors.delete(address);
    else actor = { logic: '?', parent: undefined, snapshot: {}, state: 'running', incarnation: 0, finished: false };
    this.actors.set(address, actor);
    this.bound();
    return actor;
  }

  private supervisor(address: string, init?: RemoteSupervisor): RemoteSupervisor {
    let supervisor = this.supervisors.get(address);
    if (supervisor) this.supervisors.delete(address);
    supervisor = init ?? supervisor ?? { strategy: 'unknown', parent: undefined, state: 'running', restarts: 0 };
    this.supervisors.set(address, supervisor);
    this.bound();
    return supervisor;
  }

  private bound(): void {
    while (this.actors.size + this.supervisors.size > this.maxActors) {
      const oldest = this.actors.size > 0 ? this.actors : this.supervisors;
      oldest.delete(oldest.keys().next().value as string);
    }
  }

  private trace(workflowId: string, index: number, entry: TraceEntryLike): void {
    let tail = this.traces.get(workflowId);
    if (tail) this.traces.delete(workflowId);
    const end = tail ? tail.from + tail.entries.length : index;
    if (!tail || index > end || index < tail.from) tail = { from: index, entries: [] }; // a gap: start the tail again
    if (index < end) tail.entries[index - tail.from] = entry;
    else tail.entries.push(entry);
    if (tail.entries.length > this.traceTail) {
      const excess = tail.entries.length - this.traceTail;
      tail = { from: tail.from + excess, entries: tail.entries.slice(excess) };
    }
    this.traces.set(workflowId, tail);
    if (this.traces.size > this.maxWorkflows) this.traces.delete(this.traces.keys().next().value as string);
  }

  /**
   * The parent of an address: the recorded one when it is an ancestor path of the address, otherwise the path
   * one segment up (Troupe addresses follow the supervision tree). Ancestors only, so the tree has no cycles.
   */
  private parentOf(address: string, recorded: string | undefined): string | undefined {
    if (recorded !== undefined && address.startsWith(`${recorded}/`)) return recorded;
    const cut = address.lastIndexOf('/');
    return cut > 0 ? address.slice(0, cut) : undefined;
  }

  /** The supervision tree from the root supervisor (the system's address), with placeholders where needed. */
  private tree(): MutableTree {
    const root: MutableTree = { kind: 'supervisor', address: this.system, strategy: 'unknown', state: 'running', restarts: 0, children: [] };
    const nodes = new Map<string, MutableTree>([[this.system, root]]);
    const place = (address: string, parent: string | undefined, node: MutableTree): void => {
      nodes.set(address, node);
      const under = parent !== undefined && (parent === this.system || parent.startsWith(`${this.system}/`)) ? supervisorAt(parent) : root;
      under.children!.push(node);
    };
    const supervisorAt = (address: string): MutableTree => {
      const existing = nodes.get(address);
      if (existing) return existing.kind === 'supervisor' ? existing : root;
      const known = this.supervisors.get(address);
      const node: MutableTree = { kind: 'supervisor', address, strategy: known?.strategy ?? 'unknown', state: known?.state ?? 'running', restarts: known?.restarts ?? 0, children: [] };
      place(address, this.parentOf(address, known?.parent), node);
      return node;
    };
    const known = this.supervisors.get(this.system);
    if (known) Object.assign(root, { strategy: known.strategy, state: known.state, restarts: known.restarts });
    for (const address of this.supervisors.keys()) if (address.startsWith(`${this.system}/`)) supervisorAt(address);
    for (const [address, a] of this.actors) {
      if (a.finished || nodes.has(address)) continue;
      place(address, this.parentOf(address, a.parent), {
        kind: 'actor', address, logic: a.logic, version: 0, state: a.state, status: a.snapshot.status, incarnation: a.incarnation, restartType: '', queued: 0, dropped: 0,
      });
    }
    return root;
  }
}

function stringOr<T extends string | undefined>(value: unknown, fallback: T): string | T {
  return typeof value === 'string' ? value : fallback;
}
