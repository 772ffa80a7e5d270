/**
 * The public shape of a Troupe system: the options of `createSystem`, `spawn` and `supervisor`, and the
 * `TroupeSystem` interface itself (types only; the composition root in ../runtime.ts implements them).
 */
import type { NodeInfo } from '../cluster/membership.js';
import type { ActorInfo } from '../cluster/actors-endpoint.js';
import type { RemoteInspection } from '../cluster/inspect-holds.js';
import type { Journal } from './journal.js';
import type { EscrowClient } from './escrow-client.js';
import type { AnyActorLogic, InputFrom, InspectionEvent } from 'xstate';
import type { ConfigOverrides, RuntimeConfig } from '../config.js';
import type { PlainError } from '../errors.js';
import type { InspectionBusOptions } from '../inspection/bus.js';
import type { GaugeReading } from '../observability/gauges.js';
import type { Logger, LogLevel } from '../log/index.js';
import type { MailboxLog } from '../persistence/mailbox-log.js';
import type { SnapshotStore } from '../persistence/snapshot-store.js';
import type { TraceLog } from '../persistence/trace-log.js';
import type { PolicyOptions } from '../supervision/policy.js';
import type { ActorRef } from '../system/actor-ref.js';
import type { Clock } from '../system/clock.js';
import type { DeadLetter } from '../system/dead-letters.js';
import type { RuntimeEventListener } from '../system/events.js';
import type { LogicHandle, RegisterOptions } from '../system/logic-registry.js';
import type { RestartType } from '../system/parent.js';
import type { TraceEntry } from '../trace-entry.js';
import type { NatsConnectionOptions } from '../transport/nats/connection-options.js';
import type { Transport } from '../transport/transport.js';

/** A dead letter of a durable actor, as the dead-letter stream stores it (issue 8). */
export interface StoredDeadLetterEntry {
  /** Sequence in the dead-letter stream: what `redeliver` takes. */
  readonly dlqSeq: number;
  /** The actor it was sent to (undefined for a subject that names none). */
  readonly address: string | undefined;
  /** The mailbox subject it was sent on. */
  readonly subject: string;
  readonly reason: string;
  /** The actor's incarnation that gave up on it (a failed handler). */
  readonly incarnation?: number;
  /** The event, when the stored bytes are a readable envelope. */
  readonly event?: { readonly type: string } & Record<string, unknown>;
  /** When it was dead-lettered, ms since the epoch. */
  readonly at: number;
}

/**
 * Dead letters: the in-memory view of this node (`count`, `recent`: every undeliverable message, durable or not) and
 * the durable dead-letter stream (`list`, `redeliver`), which keeps every durable message that could not be applied.
 */
export interface DeadLetters {
  count(reason?: string): number;
  recent(): readonly DeadLetter[];
  /** Entries of the dead-letter stream, oldest first, from `fromSeq`, at most `limit` (default 100). */
  list(query?: { readonly fromSeq?: number; readonly limit?: number }): Promise<StoredDeadLetterEntry[]>;
  /** Appends a stored dead letter to its actor's mailbox again, as a new message (once per entry within the dedupe window). */
  redeliver(dlqSeq: number): Promise<void>;
}

export interface CreateSystemOptions extends ConfigOverrides {
  readonly name: string;
  /** Time source for the runtime and every actor's timers; `createManualClock()` in tests. */
  readonly clock?: Clock;
  /** A Logger to use as is; otherwise pino at `logLevel` (default: env TROUPE_LOG_LEVEL, else 'warn'), on stderr unless `logDestination`. */
  readonly logger?: Logger;
  readonly logLevel?: LogLevel;
  /** Where pino writes (default stdout); anything with `write(string)`. */
  readonly logDestination?: { write(line: string): void };
  /** More pino redact paths (e.g. `['input.customer.email']`), censored beside the defaults (API keys, passwords, tokens, authorization headers). */
  readonly logRedact?: readonly string[];
  /** The root supervisor's policy. */
  readonly rootPolicy?: PolicyOptions;
  /**
   * Durable mailboxes (a JetStream stream, one consumer per shard) and snapshots (a KV bucket) on NATS.
   * Without it, durable actors use the in-memory log and store: they survive actor crashes, not the process.
   */
  readonly nats?: NatsConnectionOptions & {
    /** Replicas of the stream and bucket: 1 survives process kills; 3 survives the loss of a machine. */
    readonly replicas?: number;
    /**
     * Mailbox shards (consumers), the unit nodes share durable actors by: each hosting node holds about
     * shards / nodes of them as leases. Default 8; fixed when the system is first created (a node started with
     * another number is refused with InvalidConfigError).
     */
    readonly shards?: number;
    /** How long opening retries a server that does not answer yet (starting, busy, electing), ms. Default 30,000. */
    readonly startupTimeoutMs?: number;
    /**
     * A node's lease, ms (300 to 600,000; default 3,000), for its membership and its shard leases: each node
     * heartbeats every third of it in `troupe_<name>_nodes`, and one that misses it is gone from `system.nodes()`
     * (a shutdown removes it at once). The shards of a node that is killed are taken over at once (the server
     * reports its process gone); those of one that stops answering (paused, cut off) once this lease expires.
     */
    readonly nodeLeaseMs?: number;
    /**
     * Whether this node may host durable actors (default true): it then takes its share of the shards at
     * `recover()` or its first durable spawn. A client node (a CLI, a web handler that only starts and asks
     * workflows) sets false: its durable spawns are stored as spawn requests for the hosting nodes.
     */
    readonly hostsDurable?: boolean;
    /**
     * The mailbox stream's duplicate window, ms (default 120,000; set when the stream is created). A durable
     * actor's tells carry deterministic ids (`<address>:<input seq>:<index>`), and `deliver()` retries reuse theirs:
     * a re-send within this window is dropped by the server. A crashed actor resumed later than this re-sends the
     * tells of its unpersisted messages as new ones (at least once): keep it above your recovery time.
     */
    readonly duplicateWindowMs?: number;
    /** Limits of the trace stream `TROUPE_<name>_TRACE`: entry age (default 7 days) and stream size (default 1 GiB). */
    readonly trace?: { readonly maxAgeMs?: number; readonly maxBytes?: number };
    /**
     * Bounded growth of durable storage. `finishedMs`: how long a finished durable actor's record (done, stopped,
     * failed) is kept, ms, in bucket `troupe_<name>_finished` (its TTL; default 7 days), so `result()` finds it that
     * long; the snapshot bucket keeps only active actors, which is all `recover()` reads. `purgeEvery`: after this many
     * durable messages applied here, the mailbox stream drops every message all shard consumers have acked (default
     * 1,000).
     */
    readonly retention?: { readonly finishedMs?: number; readonly purgeEvery?: number };
    /**
     * Limits of the dead-letter stream `TROUPE_<name>_DLQ` (the oldest entries go first): age (default 30 days),
     * size (default 1 GiB), entries (default unlimited). Applied to an existing stream too.
     */
    readonly deadLetters?: { readonly maxAgeMs?: number; readonly maxBytes?: number; readonly maxMsgs?: number };
  };
  /**
   * Explicit durable backends (custom stores, tests); overrides `nats`. The system closes them on shutdown.
   * Without `trace`, `system.trace()` reads this node's in-memory trace.
   */
  readonly durability?: {
    readonly store: SnapshotStore;
    readonly log: MailboxLog;
    readonly trace?: TraceLog;
    /** Where finished actors' records move (see `nats.retention`); without it they stay in `store`. */
    readonly finished?: SnapshotStore;
    /**
     * The index of passivated actors (bucket `troupe_<name>_timers` on NATS): `recover()` reads it first and leaves
     * the actors it lists unloaded, unread; without it, every stored record is read at recover.
     */
    readonly passiveIndex?: SnapshotStore;
  };
  /** Redelivery of an unacked durable message after this long, ms. Default 30,000. */
  readonly ackWaitMs?: number;
  /**
   * Passivation (virtual actors): a durable actor idle this long (runtime clock, ms) — nothing queued, nothing being
   * written, no step or other invoked work in flight — is unloaded from memory once its record says so; its next
   * message or due timer loads it again, on whichever node then holds its shard. A node thus holds as many waiting
   * workflows as its store holds, not as its heap holds. Default 300,000 (5 minutes); `false` never unloads.
   */
  readonly passivateAfterMs?: number | false;
  /**
   * OpenTelemetry (issue 12), default true: workflow and step spans, trace context in NATS message headers, and —
   * when the application has registered a global MeterProvider before creating the system — Troupe's metrics on
   * it. Everything goes through `@opentelemetry/api`, a no-op until an SDK is registered; false switches it off.
   */
  readonly telemetry?: boolean;
  /** This process's node id (message-id prefix, inspection subject token): `[A-Za-z0-9_-]+`; default: random hex. */
  readonly nodeId?: string;
  /**
   * Inspection of this node. With `publish: true` the system creates an inspection bus (node = `nodeId`) and
   * publishes its batches on its transport at `troupe.<name>.inspect.<nodeId>` (at-most-once), so one inspector
   * on any node shows the whole cluster. This keeps the cheap inspection capture attached for the system's life.
   */
  readonly inspection?: InspectionBusOptions & { readonly publish?: boolean };
}

/** Counters of the durable machinery, for metrics and benchmarks. */
export interface DurabilityStats {
  /** Snapshot records written. */
  readonly snapshotWrites: number;
  /** Bytes of snapshot records written. */
  readonly snapshotBytes: number;
  /** Active records deleted once their actor's final record was stored (an actor that finished within its first write has none). */
  readonly snapshotDeletes: number;
  /** Messages appended to durable mailboxes by this node. */
  readonly logAppends: number;
  /** Deliveries this node rejected to the dead-letter stream (garbage, unknown actor, unhandled type). */
  readonly rejected: number;
  /** Durable actors this node unloaded after they were idle for `passivateAfterMs`. */
  readonly passivated: number;
  /** Durable actors in memory on this node now: running, or stopping with their last writes in flight (a gauge). */
  readonly loaded: number;
  /** Passivated actors `recover()` (or a shard takeover) left unloaded, records unread, because the passive index listed them. */
  readonly passiveListed: number;
  /**
   * Durable addresses this node routes through the log (a gauge): loaded and passive actors, and the last 10,000
   * that finished (a late message to one is a durable dead letter; to an older one, a message to an unknown address).
   */
  readonly knownAddresses: number;
  /** Deliveries the mailbox log handed this node more than once (ack_wait passed, a nak, a dead process's). */
  readonly redeliveries: number;
  /** Durable messages acked after their effect was stored: over `snapshotWrites`, how many each write carried (coalescing). */
  readonly acked: number;
}

/** A durable actor's final record, as `finishedActors()` lists it. */
export interface FinishedActor {
  readonly address: string;
  readonly logic: string;
  readonly parent: string;
  readonly status: 'done' | 'stopped' | 'failed';
  /** Its last persisted XState snapshot. */
  readonly snapshot: unknown;
  /** When the record was written, ms since the epoch. */
  readonly updatedAt: number;
}

/** What this node runs and has handled, read at once (metrics). */
export interface RuntimeStats {
  /** Actors running here (supervisors not counted). */
  readonly actors: number;
  /** Messages waiting in the mailboxes of this node's actors. */
  readonly queued: number;
  /** The longest mailbox here. */
  readonly deepestMailbox: number;
  /** Messages on the rpc subjects (tells and asks between nodes) dropped here as garbage or undeliverable. */
  readonly rpcDropped: number;
  /** Messages handled here since start, by logic name. */
  readonly handledByLogic: Readonly<Record<string, number>>;
  /** What the logics that report gauges say of their actors here (breaker states, escrow items), summed per name and labels. */
  readonly gauges: readonly GaugeReading[];
  /**
   * This node's published inspection (`inspection: { publish: true }`; absent otherwise): the actors under full XState
   * inspection in what it publishes, the leases inspectors on other nodes hold on them (issue 9), and how many of
   * those lapsed because their holder stopped renewing.
   */
  readonly inspection?: { readonly inspected: readonly string[]; readonly remoteLeases: number; readonly lapsedLeases: number };
}

/** `TInput`: the logic's input type (`InputFrom<TLogic>`), so `spawn` checks a workflow's input against its definition. */
export interface SpawnOptions<TInput = unknown> {
  /** The actor's id within its parent: `[A-Za-z0-9_-]+`. */
  readonly id: string;
  /** A supervisor (ref or address); default: the root supervisor. */
  readonly parent?: SupervisorRef | string;
  /** The logic's input (a workflow: its steps' input, or the `WorkflowInput` wrapper). */
  readonly input?: TInput;
  /** Default 'transient': restarted after a failure, not after it completes. */
  readonly restart?: RestartType;
  /** How long a stop may take, ms (default: config.shutdownTimeoutMs). */
  readonly shutdownMs?: number;
  /** Default: config.mailboxCapacity. */
  readonly mailboxCapacity?: number;
  /**
   * A durable actor: its messages go through the durable mailbox and its snapshot is persisted at each durable
   * point, so it survives process death. Spawning a durable actor that is already active (or stored) resumes it;
   * spawning the address of one that finished (its record moved to the finished bucket) starts a fresh actor.
   */
  readonly durable?: boolean;
}

export interface SupervisorOptions {
  readonly parent?: SupervisorRef | string;
  /** Default 'permanent': a supervisor is restarted whenever its parent's strategy says so. */
  readonly restart?: RestartType;
  readonly shutdownMs?: number;
}

export interface SupervisorRef {
  readonly address: string;
  readonly id: string;
  /** Child addresses in start order. */
  children(): string[];
  /** Restarts performed by this supervisor. */
  readonly restarts: number;
  /** Stops the subtree (children right to left); a normal exit. */
  stop(): Promise<void>;
}

/** A node of the live supervision tree (`system.tree()`), plain data. */
export type TreeNode =
  | {
      readonly kind: 'supervisor';
      readonly address: string;
      readonly strategy: string;
      readonly state: 'running' | 'held' | 'stopped';
      readonly restarts: number;
      readonly children: TreeNode[];
    }
  | {
      readonly kind: 'actor';
      readonly address: string;
      readonly logic: string;
      readonly version: number;
      readonly state: 'running' | 'held' | 'stopped';
      /** XState status of the current incarnation: active, done, error, stopped. */
      readonly status: string | undefined;
      readonly incarnation: number;
      readonly restartType: RestartType;
      readonly queued: number;
      readonly dropped: number;
    };

/** What the inspector needs to draw an actor: its logic and, for machines, the definition. */
export interface ActorDescription {
  readonly address: string;
  readonly logic: string;
  readonly version: number;
  /** `machine.definition` (JSON-safe) for state machines; undefined for promise/callback logic. */
  readonly definition: unknown;
}

export type Termination = { readonly reason: 'shutdown' } | { readonly reason: 'failed'; readonly report: PlainError };

export interface TroupeSystem {
  readonly name: string;
  /** This node's id (`nodeId`, or random hex). */
  readonly node: string;
  /** The node's transport: NATS when `nats` is set (and `durability` is not), else an in-process memory transport. Closed at shutdown. */
  readonly transport: Transport;
  readonly config: RuntimeConfig;
  readonly clock: Clock;
  /** The root supervisor: parent of everything spawned without one. */
  readonly root: SupervisorRef;
  register<TLogic extends AnyActorLogic>(name: string, logic: TLogic, options?: RegisterOptions): LogicHandle<TLogic>;
  /**
   * Starts an actor of a registered logic. Given the handle `register` returned, `options.input` is typed by the
   * logic's input (a spawn by name is unchecked).
   * @example
   * const reply = system.register('customer-reply', workflow<Ticket>('customer-reply', { steps }));
   * system.spawn(reply, { id: 'ticket-42', input: ticket }); // a non-Ticket input does not compile
   */
  spawn<TLogic extends AnyActorLogic = AnyActorLogic>(logic: LogicHandle<TLogic> | string, options: SpawnOptions<InputFrom<TLogic>>): ActorRef<TLogic>;
  supervisor(id: string, policy?: PolicyOptions, options?: SupervisorOptions): SupervisorRef;
  lookup<TLogic extends AnyActorLogic = AnyActorLogic>(address: string): ActorRef<TLogic>;
  /**
   * The escrow at `address` (default `<system>/escrow`, where workflows escalate unless told otherwise): list the
   * items waiting for a person and decide one. A decision for an unknown item rejects with UnknownEscrowItemError.
   * @example
   * const [item] = await system.escrow().list();
   * if (item) await system.escrow().approve(item.id, { by: 'ana', output: editedReply });
   */
  escrow(address?: string): EscrowClient;
  /**
   * Waits for the output of the actor at `address`: for a durable one, its persisted output once its `done` record
   * is stored — from any process connected to the system, also after the process that ran it died. Rejects with
   * `Aborted` (an aborted workflow, with its cause; an actor stopped before it finished), `ActorFailedError` (its
   * supervisor gave up on it), TimeoutError after `timeoutMs` (default: no limit), SystemStoppedError at shutdown.
   * @example
   * const output = await system.result<WorkflowOutput>('support/ticket-42', { timeoutMs: 60_000 });
   */
  result<TOutput = unknown>(address: string, options?: { readonly timeoutMs?: number }): Promise<TOutput>;
  /** Runtime events (`rt.*`); returns the unsubscribe function. */
  subscribe(listener: RuntimeEventListener): () => void;
  readonly deadLetters: DeadLetters;
  /** The live supervision tree from the root supervisor, as plain data. */
  tree(): TreeNode;
  /** The logic and machine definition of a local actor, or undefined when none lives at `address`. */
  describe(address: string): ActorDescription | undefined;
  /**
   * `describe`, from whichever node runs the actor (NATS: the hosting node answers on `troupe.<name>.ctl.describe.*`);
   * undefined when no node runs it now.
   */
  describeAnywhere(address: string): Promise<ActorDescription | undefined>;
  /**
   * Switches full XState inspection on for one local actor (across restarts); returns the switch-off. Several
   * observers may be on at once (each switch-off removes its own). Off by default: any XState inspect observer
   * halves `send()` throughput.
   */
  inspect(address: string, observer: (event: InspectionEvent) => void): () => void;
  /**
   * Full XState inspection of an actor another node runs (issue 9, NATS): the hosting node switches it on in the
   * inspection records it publishes (`inspection: { publish: true }`), which an inspector with the cluster view
   * receives. The hold is a lease (`leaseMs`, default 15,000, bounded 300 to 60,000) renewed every third of it until
   * `release()`; a holder that dies without releasing costs the hosting node at most one lease. Refused with a reason
   * when nobody runs the actor (`no-actor`) or its node does not publish (`not-published`). Throws
   * `InvalidAddressError` for an invalid address.
   * @example
   * const held = await system.holdRemoteInspection('support/ticket-1');
   * if (held.ok) setTimeout(() => held.release(), 60_000);
   * else console.log(held.message);
   */
  holdRemoteInspection(address: string, options?: { readonly leaseMs?: number }): Promise<RemoteInspection>;
  /**
   * The execution trace of one workflow, oldest first, each entry once: on NATS the whole stored history (also
   * from before a crash, also in a process that never ran the workflow), read from the trace stream after this
   * node's pending entries are stored; on the embedded default this node's in-memory trace. Rejects with
   * InvalidAddressError for an id outside `[A-Za-z0-9_-]+`, TimeoutError when the read takes over 5 s.
   * @example
   * const entries = await system.trace('ticket-42');
   */
  trace(workflowId: string): Promise<readonly TraceEntry[]>;
  /**
   * The entries this node recorded for a workflow (bounded, in memory), synchronously: the inspector's source.
   * After a restart it starts empty; use `trace()` for the history.
   */
  localTrace(workflowId: string): readonly TraceEntry[];
  /**
   * A journal of results already paid for — an agent's model responses (`agent({ journal: system.journal() })`), a
   * tool's results — kept by a stable key, so a re-run after a crash reads them back instead of paying again. On
   * NATS it is shared by every node (KV bucket `troupe_<name>_journal`); on the embedded default, by this process.
   */
  journal<T = unknown>(): Journal<T>;
  /** Calls `listener` with each trace entry this node records (its workflows' steps, handoffs, escrow, breakers); returns the unsubscribe. */
  onTrace(listener: (entry: TraceEntry) => void): () => void;
  /**
   * Restores the durable actors that are still active in the store (after their logic is registered and
   * their supervisors exist) and starts consuming durable mailboxes; returns the restored addresses.
   * On NATS this node starts hosting (so does its first durable `spawn`): it takes its share of the mailbox
   * shards as leases, shared with the system's other hosting nodes, and restores the actors of the shards it took;
   * it resolves after that first share, and takes or hands over shards as nodes join and leave.
   */
  recover(): Promise<string[]>;
  durabilityStats(): DurabilityStats;
  /**
   * Why this node cannot serve yet, or undefined when it can (`/readyz`): stopped, or — a node that started hosting
   * durable actors on NATS (`recover()`, a durable spawn) — its shard leases and mailbox consumers still starting,
   * or failed to start.
   */
  notReadyBecause(): string | undefined;
  /**
   * Durable actors that finished (done, stopped, failed), newest first, with their final snapshots — what the
   * inspector lists after its history has moved on or the node restarted (issue 14). Default limit 100.
   */
  finishedActors(options?: { readonly limit?: number }): Promise<FinishedActor[]>;
  /** What this node runs and has handled, read now (mailbox depths, messages by logic): for metrics. */
  runtimeStats(): RuntimeStats;
  /** Calls `listener` after each durable record write of this node (its size and the store's time); returns the unsubscribe. */
  onDurableWrite(listener: (write: { readonly bytes: number; readonly ms: number }) => void): () => void;
  /**
   * The live nodes of this system (issue 9): on NATS every process whose heartbeat is within its lease, with its
   * actors and the mailbox shards it consumes; on the embedded default, this one. Joins and departures are
   * `rt.cluster.member` events.
   * @example
   * for (const n of await system.nodes()) console.log(n.node, n.host, n.actors, n.shards.length);
   */
  nodes(): Promise<NodeInfo[]>;
  /**
   * Every actor of the system that runs now, on every node (issue 10, `troupe ps`): address, node, logic, the
   * statechart's active state, status, durability and mailbox depth. On NATS the nodes answer a control request
   * (`troupe.<name>.ctl.actors`), gathered until every live node answered or `windowMs` (default 1,000) passed; on
   * the embedded default, this process's. Passivated durable actors are not running, so they are not listed.
   * @example
   * for (const a of await system.actors()) console.log(a.address, a.value, a.node);
   */
  actors(options?: { readonly windowMs?: number }): Promise<ActorInfo[]>;
  /** Stops every actor (right to left, waiting for each), then the transports. Idempotent. */
  shutdown(options?: { timeoutMs?: number }): Promise<void>;
  /** Settles when the system has stopped: by shutdown, or because the root supervisor failed. */
  readonly terminated: Promise<Termination>;
}
