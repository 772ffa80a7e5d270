/**
 * The UI's model: what the server streamed, applied record by record. The supervision tree comes whole in a
 * resync and is patched from runtime records in between; traces are kept by index (records may repeat after a
 * resync: applying one twice changes nothing).
 */
import type {
  ConsumerCounts, ResyncMessage, ServerMessage, StatelyRecord, TraceEntryLike, WireRecord, WireSnapshot, WireTreeNode,
} from '../../src/inspection/wire.js';

export interface ActorView {
  readonly address: string;
  logic: string;
  parent: string | undefined;
  node: string;
  snapshot: WireSnapshot;
  finished: boolean;
  external: boolean;
  /** For outside XState apps: the JSON-stringified machine config they sent. */
  config?: string;
  updatedAt: number;
}

export interface LogEntry {
  readonly seq: number;
  /** When it happened, on the clock of the node (or outside app) that recorded it. */
  readonly at: number;
  readonly category: 'runtime' | 'event' | 'snapshot' | 'trace' | 'microstep' | 'action';
  readonly type: string;
  readonly actor: string;
  readonly text: string;
  /** A snapshot entry's snapshot: what time travel shows (kept as long as the entry, LOG_MAX at most). */
  readonly snapshot?: WireSnapshot;
}

type MutableTree = { -readonly [K in keyof WireTreeNode]: WireTreeNode[K] } & { children?: MutableTree[]; [key: string]: unknown };

const LOG_MAX = 5_000;

const CLEARED_KEY = 'troupe.inspector.cleared-apps';

function clearedSessions(): string[] {
  try {
    const stored = JSON.parse(sessionStorage.getItem(CLEARED_KEY) ?? '[]') as unknown;
    return Array.isArray(stored) ? stored.filter((id): id is string => typeof id === 'string') : [];
  } catch {
    return [];
  }
}

export class Store {
  system = '';
  connected = false;
  readonly trees = new Map<string, MutableTree>();
  readonly actors = new Map<string, ActorView>();
  readonly traces = new Map<string, TraceEntryLike[]>();
  readonly log: LogEntry[] = [];
  readonly counts = new Map<string, ConsumerCounts>();
  readonly inspected = new Set<string>();
  readonly definitions = new Map<string, unknown>();
  readonly definitionKeys = new Map<string, string>();
  resyncs = 0;
  clockOffset = 0;
  private logSeq = 0;
  /** Bumped on every change; views redraw when it moved. */
  version = 0;

  /** The node's clock now (SLA countdowns). */
  now(): number {
    return Date.now() + this.clockOffset;
  }

  apply(message: ServerMessage): void {
    this.version++;
    switch (message.t) {
      case 'resync':
        return this.resync(message);
      case 'batch':
        this.clockOffset = message.now - Date.now();
        this.counts.set(message.node, message.counts);
        for (const record of message.records) this.record(record, message.node);
        return;
      case 'history':
        // What the node recorded before this page connected; the resync that follows sets the current state.
        for (const record of message.records) this.record(record, message.node);
        return;
      case 'definition':
        this.definitions.set(message.key, message.definition);
        this.definitionKeys.set(message.address, message.key);
        return;
      case 'finished':
        // Finished durable actors from the store: listed when this page knows nothing newer of them.
        for (const a of message.actors) {
          if (!this.actors.has(a.address)) this.actors.set(a.address, { address: a.address, logic: a.logic, parent: a.parent, node: 'stored', snapshot: a.snapshot, finished: true, external: false, updatedAt: Date.now() });
        }
        for (const [workflowId, entries] of Object.entries(message.traces)) {
          if ((this.traces.get(workflowId)?.length ?? 0) < entries.length) this.traces.set(workflowId, [...entries]);
        }
        return;
      default:
        return;
    }
  }

  private resync(m: ResyncMessage): void {
    this.resyncs++;
    this.system = m.system;
    this.clockOffset = m.now - Date.now();
    this.counts.set(m.node, m.counts);
    this.trees.set(m.node, structuredClone(m.tree) as MutableTree);
    for (const [address, actor] of this.actors) {
      if (actor.node !== m.node || actor.external) continue;
      this.actors.delete(address);
      this.inspected.delete(address); // per node: another node's resync leaves these switches alone
    }
    for (const a of m.actors) {
      this.actors.set(a.address, { address: a.address, logic: a.logic, parent: a.parent, node: m.node, snapshot: a.snapshot, finished: a.finished, external: false, updatedAt: Date.now() });
    }
    for (const [workflowId, { from, entries }] of Object.entries(m.traces)) {
      const list = this.traces.get(workflowId) ?? [];
      entries.forEach((entry, i) => (list[from + i] = entry));
      this.traces.set(workflowId, list);
    }
    for (const address of m.inspected) this.inspected.add(address);
    for (const record of m.external ?? []) this.record(record, 'external');
  }

  private record(r: WireRecord, node: string): void {
    switch (r.type) {
      case '@xstate.actor':
      case '@xstate.snapshot':
        return this.stately(r, node);
      case '@xstate.event':
        return this.push('event', r.event.type, r.sessionId, r.sourceId ? `from ${r.sourceId}` : '', timeOf(r.createdAt));
      case 'troupe.microstep':
        return this.push('microstep', r.event.type, r.sessionId, r.transitions.map((t) => `${t.source} → ${t.targets.join(', ')}`).join('; '), timeOf(r.createdAt));
      case 'troupe.action':
        return this.push('action', r.action.type, r.sessionId, '', timeOf(r.createdAt));
      case 'troupe.trace': {
        const list = this.traces.get(r.workflowId) ?? [];
        list[r.index] = r.entry;
        this.traces.set(r.workflowId, list);
        const e = r.entry;
        return this.push('trace', `${e.kind ?? ''}.${e.outcome ?? ''}`, r.workflowId, `${e.step ?? ''} ${e.from ?? ''} → ${e.to ?? ''}`, e.at ?? e.startedAt);
      }
      case 'troupe.runtime':
        return this.runtime(r.event, node);
    }
  }

  /** Outside apps' sessions the person cleared: their records (a reload replays the history) stay hidden. */
  private readonly cleared = new Set<string>(clearedSessions());

  /** Drops the outside apps' actors that stopped (their app disconnected), now and when the history replays them. */
  clearStoppedApps(): void {
    for (const [address, actor] of this.actors) {
      if (!actor.external || actor.snapshot.status !== 'stopped') continue;
      this.actors.delete(address);
      this.cleared.add(address);
    }
    try {
      sessionStorage.setItem(CLEARED_KEY, JSON.stringify([...this.cleared].slice(-1_000)));
    } catch {
      // storage off: cleared for this page only
    }
    this.version++;
  }

  private stately(r: StatelyRecord & { type: '@xstate.actor' | '@xstate.snapshot' }, node: string): void {
    if (r.sessionId.includes('#')) return; // an XState child inside a Troupe actor: shown through its parent
    if (this.cleared.has(r.sessionId)) return;
    const external = node === 'external' || r.sessionId.startsWith('ext-');
    let actor = this.actors.get(r.sessionId);
    if (!actor) {
      actor = { address: r.sessionId, logic: '?', parent: undefined, node: external ? 'external' : node, snapshot: {}, finished: false, external, updatedAt: Date.now() };
      this.actors.set(r.sessionId, actor);
    }
    if (r.type === '@xstate.actor') {
      actor.logic = r.name;
      actor.parent = r.parentId;
      if (r.definition) actor.config = r.definition;
      actor.finished = false;
    }
    actor.snapshot = r.snapshot;
    actor.updatedAt = Date.now();
    if (!external) this.patchTree(node, r.sessionId, (n) => (n['status'] = r.snapshot.status));
    if (r.type === '@xstate.snapshot') this.push('snapshot', String(r.snapshot.status ?? ''), r.sessionId, JSON.stringify(r.snapshot.value ?? ''), timeOf(r.createdAt), r.snapshot);
  }

  private runtime(e: { type: string; ts: number; [key: string]: unknown }, node: string): void {
    const address = String(e['address'] ?? e['child'] ?? e['supervisor'] ?? e['to'] ?? e['system'] ?? '');
    this.push('runtime', e.type, address, describeRuntime(e), e.ts);
    const tree = this.trees.get(node);
    if (!tree) return;
    switch (e.type) {
      case 'rt.actor.spawned':
        this.insert(tree, String(e['parent']), { kind: 'actor', address, logic: String(e['logic']), version: 0, state: 'running', status: 'active', incarnation: 0, restartType: '', queued: 0, dropped: 0 } as MutableTree);
        return;
      case 'rt.supervisor.started':
        this.insert(tree, String(e['parent']), { kind: 'supervisor', address, strategy: String(e['strategy']), state: 'running', restarts: 0, children: [] } as MutableTree);
        return;
      case 'rt.actor.stopped': {
        this.remove(tree, address);
        const actor = this.actors.get(address);
        if (actor) actor.finished = true;
        return;
      }
      case 'rt.actor.failed':
        this.patchTree(node, address, (n) => ((n['state'] = 'held'), (n['status'] = 'error')));
        return;
      case 'rt.actor.restarted':
        this.patchTree(node, address, (n) => ((n['state'] = 'running'), (n['status'] = 'active'), (n['incarnation'] = e['incarnation'])));
        return;
      case 'rt.supervisor.decision':
        if (e['directive'] === 'restart') this.patchTree(node, String(e['supervisor']), (n) => (n['restarts'] = Number(n['restarts'] ?? 0) + 1));
        return;
    }
  }

  private find(tree: MutableTree, address: string): MutableTree | undefined {
    if (tree.address === address) return tree;
    for (const child of tree.children ?? []) {
      const found = this.find(child, address);
      if (found) return found;
    }
    return undefined;
  }

  private patchTree(node: string, address: string, patch: (n: MutableTree) => void): void {
    const tree = this.trees.get(node);
    const found = tree && this.find(tree, address);
    if (found) patch(found);
  }

  private insert(tree: MutableTree, parent: string, child: MutableTree): void {
    const p = this.find(tree, parent);
    if (!p || this.find(tree, child.address)) return;
    (p.children ??= []).push(child);
  }

  private remove(tree: MutableTree, address: string): void {
    const children = tree.children;
    if (!children) return;
    const index = children.findIndex((c) => c.address === address);
    if (index >= 0) children.splice(index, 1);
    else for (const child of children) this.remove(child, address);
  }

  private push(category: LogEntry['category'], type: string, actor: string, text: string, at: number | undefined, snapshot?: WireSnapshot): void {
    const time = typeof at === 'number' && Number.isFinite(at) ? at : this.now();
    this.log.push(snapshot === undefined ? { seq: ++this.logSeq, at: time, category, type, actor, text } : { seq: ++this.logSeq, at: time, category, type, actor, text, snapshot });
    if (this.log.length > LOG_MAX) this.log.splice(0, this.log.length - LOG_MAX);
  }

  /**
   * Time travel (issue 14): the snapshot `actor` had when log entry `seq` was recorded — its latest snapshot entry at
   * or before it; for a workflow's trace entry, the workflow actor's. Undefined when the log holds none that early.
   */
  snapshotAt(seq: number, actor: string): { readonly address: string; readonly snapshot: WireSnapshot; readonly at: number } | undefined {
    const address = this.actors.has(actor) ? actor : [...this.actors.values()].find((a) => (a.snapshot.context as { workflowId?: unknown } | undefined)?.workflowId === actor)?.address;
    if (address === undefined) return undefined;
    for (let i = this.log.length - 1; i >= 0; i--) {
      const e = this.log[i]!;
      if (e.seq <= seq && e.actor === address && e.snapshot !== undefined) return { address, snapshot: e.snapshot, at: e.at };
    }
    return undefined;
  }
}

/** `createdAt` of a `@statelyai/inspect` record: epoch milliseconds as a string. */
function timeOf(createdAt: string | undefined): number | undefined {
  const at = Number(createdAt);
  return Number.isFinite(at) && at > 0 ? at : undefined;
}

function describeRuntime(e: Record<string, unknown>): string {
  switch (e['type']) {
    case 'rt.supervisor.decision':
      return `${String(e['directive'])} ${String(e['child'])} (${String((e['reason'] as { message?: string } | undefined)?.message ?? '')}), delay ${String(e['delayMs'])} ms`;
    case 'rt.actor.failed':
      return String((e['error'] as { message?: string } | undefined)?.message ?? '');
    case 'rt.deadLetter':
      return `${String(e['eventType'])}: ${String(e['reason'])}`;
    case 'rt.actor.stopped':
      return String(e['reason'] ?? '');
    case 'rt.actor.restarted':
      return `incarnation ${String(e['incarnation'])}, ${String(e['redelivered'])} redelivered`;
    default:
      return '';
  }
}
