/**
 * The cluster view (issue 5): every node of a system publishes its inspection batches on
 * `troupe.<system>.inspect.<node>`; the relay subscribes to `troupe.<system>.inspect.*` on the system's
 * transport, validates each message (`parseBatchMessage`: garbage, a wrong version or a node publishing on
 * another node's subject is counted and dropped, never thrown, never forwarded), skips the local node's own
 * subject (its records come from the local bus), keeps a bounded latest-state cache per remote node
 * (remote-node.ts) for resyncs, and hands each remote batch to the UI clients' bounded channels, whose caps
 * and drop counts apply to remote records as to local ones.
 */
import { inspectSubject, parseBatchMessage, type BatchSink, type SealedBatch, type Transport, type TransportSubscription } from '../src/index.js';
import type { ResyncMessage } from '../src/inspection/wire.js';
import { RemoteNodeState, type RemoteNodeLimits } from './remote-node.js';

export interface ClusterLimits extends RemoteNodeLimits {
  /** Remote nodes kept (the least recently heard go first). Default 64. */
  readonly maxNodes?: number;
}

export interface ClusterStats {
  /** The subject pattern subscribed to. */
  readonly subject: string;
  /** Valid batches received from remote nodes, and their records. */
  readonly remoteBatches: number;
  readonly remoteRecords: number;
  /** Messages refused (undecodable, wrong version, malformed), dropped before any client. */
  readonly garbage: number;
  /** Why the last one was refused. */
  readonly lastGarbage: string | undefined;
  /** Messages on the local node's own subject, skipped (the local bus already streams them). */
  readonly ownSkipped: number;
  /** Remote nodes heard from (most recently heard last). */
  readonly nodes: readonly string[];
}

/** What a UI client channel needs of the cluster: its batches, and the remote nodes' state for a resync. */
export interface RemoteSource {
  subscribe(sink: BatchSink): () => void;
  states(): Array<Omit<ResyncMessage, 'counts' | 'reason'>>;
}

export class ClusterRelay implements RemoteSource {
  private readonly sinks = new Set<BatchSink>();
  private readonly nodes = new Map<string, RemoteNodeState>();
  private readonly prefix: string;
  private readonly pattern: string;
  private readonly own: string;
  private subscription: TransportSubscription | undefined;
  private remoteBatches = 0;
  private remoteRecords = 0;
  private garbage = 0;
  private lastGarbage: string | undefined;
  private ownSkipped = 0;

  constructor(
    private readonly system: { readonly name: string; readonly node: string; readonly transport: Transport },
    private readonly limits: ClusterLimits = {},
  ) {
    this.pattern = inspectSubject(system.name, '*');
    this.prefix = inspectSubject(system.name, '');
    this.own = inspectSubject(system.name, system.node);
  }

  start(): void {
    this.subscription ??= this.system.transport.subscribe(this.pattern, (message) => this.receive(message.subject, message.data));
  }

  subscribe(sink: BatchSink): () => void {
    this.sinks.add(sink);
    return () => void this.sinks.delete(sink);
  }

  states(): Array<Omit<ResyncMessage, 'counts' | 'reason'>> {
    return [...this.nodes.values()].map((node) => node.state());
  }

  stats(): ClusterStats {
    return {
      subject: this.pattern, remoteBatches: this.remoteBatches, remoteRecords: this.remoteRecords, garbage: this.garbage,
      lastGarbage: this.lastGarbage, ownSkipped: this.ownSkipped, nodes: [...this.nodes.keys()],
    };
  }

  close(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.sinks.clear();
  }

  private receive(subject: string, data: Uint8Array): void {
    if (subject === this.own) {
      this.ownSkipped++;
      return;
    }
    const parsed = parseBatchMessage(data, subject.slice(this.prefix.length));
    if (!parsed.ok) {
      this.garbage++;
      this.lastGarbage = parsed.reason;
      return;
    }
    const { batch, recordsJson } = parsed;
    this.remoteBatches++;
    this.remoteRecords += batch.records.length;
    this.nodeState(batch.node).apply(batch);
    const sealed: SealedBatch = { node: batch.node, seq: batch.seq, now: batch.now, records: batch.records, recordsJson: () => recordsJson };
    for (const sink of this.sinks) {
      try {
        sink.batch(sealed);
      } catch {
        // A client's failure is its own (its channel closes); the others still get the batch.
      }
    }
  }

  /** The cache of a node, moved to the most recently heard end; the least recently heard beyond the bound go. */
  private nodeState(node: string): RemoteNodeState {
    let state = this.nodes.get(node);
    if (state) this.nodes.delete(node);
    else state = new RemoteNodeState(node, this.system.name, this.limits);
    this.nodes.set(node, state);
    if (this.nodes.size > (this.limits.maxNodes ?? 64)) this.nodes.delete(this.nodes.keys().next().value as string);
    return state;
  }
}
