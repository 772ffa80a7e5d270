/**
 * The composition root (L4): the only module that names pino (and, later, the NATS and JetStream
 * implementations). It wires the actor core to supervision under a root supervisor whose failure shuts
 * the system down with a report.
 */
import { pino } from 'pino';
import { randomBytes } from 'node:crypto';
import { backoffDelay } from './backoff.js';
import { DurableCell } from './durable/durable-cell.js';
import type { DurableRecord } from './durable/durable-record.js';
import { DurableNode } from './durable/durable-node.js';
import { createKvSnapshotStore } from './persistence/jetstream/kv-snapshot-store.js';
import { createJetStreamMailboxLog } from './persistence/jetstream/jetstream-mailbox-log.js';
import type { MailboxLog } from './persistence/mailbox-log.js';
import { createMemoryMailboxLog } from './persistence/memory/memory-mailbox-log.js';
import { createMemorySnapshotStore } from './persistence/memory/memory-snapshot-store.js';
import { snapshotKey, type SnapshotStore } from './persistence/snapshot-store.js';
import type { NatsConnectionOptions } from './transport/nats/connection-options.js';
import { createNatsTransport } from './transport/nats/nats-transport.js';
import { createMemoryTransport } from './transport/memory/memory-transport.js';
import type { Transport } from './transport/transport.js';
import { createInspectionBus, type InspectionBus, type InspectionBusOptions } from './inspection/bus.js';
import { publishInspection } from './inspection/transport-sink.js';
import type { AnyActorLogic, InspectionEvent } from 'xstate';
import { resolveConfig, type ConfigOverrides, type MessageCheck, type RuntimeConfig } from './config.js';
import { ActorFailedError, InvalidConfigError, InvalidChildSpecError, SystemStoppedError, toPlainError, type PlainError } from './errors.js';
import type { Logger, LogLevel } from './log/index.js';
import { resolvePolicy, type PolicyOptions } from './supervision/policy.js';
import { Supervisor } from './supervision/supervisor.js';
import type { ActorRef } from './system/actor-ref.js';
import { ActorCell } from './system/actor-cell.js';
import { ActorSystemCore } from './system/actor-system.js';
import { childAddress, idOf, validateSegment } from './system/address.js';
import { systemClock, type Clock } from './system/clock.js';
import type { DeadLetter } from './system/dead-letters.js';
import type { RuntimeEventListener } from './system/events.js';
import type { LogicHandle, RegisterOptions } from './system/logic-registry.js';
import type { Child, ExitReason, Parent, RestartType } from './system/parent.js';
import type { TraceEntry } from './system/trace-store.js';

export interface CreateSystemOptions extends ConfigOverrides {
  readonly name: string;
  /** Time source for the runtime and every actor's timers; `createManualClock()` in tests. */
  readonly clock?: Clock;
  /** A Logger to use as is; otherwise pino at `logLevel` (default: env TROUPE_LOG_LEVEL, else 'info'). */
  readonly logger?: Logger;
  readonly logLevel?: LogLevel;
  /** Where pino writes (default stdout); anything with `write(string)`. */
  readonly logDestination?: { write(line: string): void };
  /** The root supervisor's policy. */
  readonly rootPolicy?: PolicyOptions;
  /**
   * Durable mailboxes (a JetStream stream, one consumer per shard) and snapshots (a KV bucket) on NATS.
   * Without it, durable actors use the in-memory log and store: they survive actor crashes, not the process.
   */
  readonly nats?: NatsConnectionOptions & {
    /** Replicas of the stream and bucket: 1 survives process kills; 3 survives the loss of a machine. */
    readonly replicas?: number;
    /** Mailbox shards (consumers). Default 8. */
    readonly shards?: number;
  };
  /** Explicit durable backends (custom stores, tests); overrides `nats`. The system closes them on shutdown. */
  readonly durability?: { readonly store: SnapshotStore; readonly log: MailboxLog };
  /** Redelivery of an unacked durable message after this long, ms. Default 30,000. */
  readonly ackWaitMs?: number;
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
  /** Messages appended to durable mailboxes by this node. */
  readonly logAppends: number;
  /** Deliveries this node rejected to the dead-letter stream (garbage, unknown actor, unhandled type). */
  readonly rejected: number;
}

export interface SpawnOptions {
  /** The actor's id within its parent: `[A-Za-z0-9_-]+`. */
  readonly id: string;
  /** A supervisor (ref or address); default: the root supervisor. */
  readonly parent?: SupervisorRef | string;
  readonly input?: unknown;
  /** Default 'transient': restarted after a failure, not after it completes. */
  readonly restart?: RestartType;
  /** How long a stop may take, ms (default: config.shutdownTimeoutMs). */
  readonly shutdownMs?: number;
  /** Default: config.mailboxCapacity. */
  readonly mailboxCapacity?: number;
  /**
   * A durable actor: its messages go through the durable mailbox and its snapshot is persisted at each durable
   * point, so it survives process death. Spawning a durable actor that is already active (or stored) resumes it.
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
  spawn<TLogic extends AnyActorLogic = AnyActorLogic>(logic: LogicHandle<TLogic> | string, options: SpawnOptions): ActorRef<TLogic>;
  supervisor(id: string, policy?: PolicyOptions, options?: SupervisorOptions): SupervisorRef;
  lookup<TLogic extends AnyActorLogic = AnyActorLogic>(address: string): ActorRef<TLogic>;
  /** Runtime events (`rt.*`); returns the unsubscribe function. */
  subscribe(listener: RuntimeEventListener): () => void;
  readonly deadLetters: { count(reason?: string): number; recent(): readonly DeadLetter[] };
  /** The live supervision tree from the root supervisor, as plain data. */
  tree(): TreeNode;
  /** The logic and machine definition of a local actor, or undefined when none lives at `address`. */
  describe(address: string): ActorDescription | undefined;
  /**
   * Switches full XState inspection on for one local actor (across restarts); returns the switch-off.
   * Off by default: any XState inspect observer halves `send()` throughput.
   */
  inspect(address: string, observer: (event: InspectionEvent) => void): () => void;
  /** The execution trace of one workflow, oldest first. */
  trace(workflowId: string): readonly TraceEntry[];
  /**
   * Restores the durable actors that are still active in the store (after their logic is registered and
   * their supervisors exist) and starts consuming durable mailboxes; returns the restored addresses.
   */
  recover(): Promise<string[]>;
  durabilityStats(): DurabilityStats;
  /** Stops every actor (right to left, waiting for each), then the transports. Idempotent. */
  shutdown(options?: { timeoutMs?: number }): Promise<void>;
  /** Settles when the system has stopped: by shutdown, or because the root supervisor failed. */
  readonly terminated: Promise<Termination>;
}

/**
 * Creates an actor system. With no transport options it runs on the embedded default (memory transport
 * and store, one process, nothing installed).
 * @example
 * const system = await createSystem({ name: 'support' });
 * const counter = system.register('counter', counterMachine);
 * const ref = system.spawn(counter, { id: 'c1' });
 * ref.tell({ type: 'inc' });
 */
export async function createSystem(options: CreateSystemOptions): Promise<TroupeSystem> {
  validateSegment(options?.name, 'system name');
  if (options.nodeId !== undefined) validateSegment(options.nodeId, 'nodeId');
  const log = options.logger ?? createPinoLogger(options, options.name);
  return new Runtime(options, log, await openBackends(options, log));
}

interface Backends {
  readonly store: SnapshotStore;
  readonly log: MailboxLog;
  readonly transport: Transport;
  close(): Promise<void>;
}

/** The durable backends: explicit ones, NATS JetStream, or the in-memory default. */
async function openBackends(options: CreateSystemOptions, logger: Logger): Promise<Backends> {
  if (options.durability) {
    const { store, log } = options.durability;
    const transport = createMemoryTransport();
    return { store, log, transport, close: async () => void (await Promise.all([log.close(), store.close(), transport.close()])) };
  }
  if (options.nats) {
    const { replicas, shards, ...connection } = options.nats;
    const transport = await createNatsTransport(connection);
    const store = await createKvSnapshotStore(transport.connection, { bucket: `troupe_${options.name}_snapshots`, ...(replicas ? { replicas } : {}) });
    const mailbox = await createJetStreamMailboxLog(transport.connection, {
      system: options.name,
      shards: shards ?? 8,
      ...(replicas ? { replicas } : {}),
      ...(options.ackWaitMs ? { ackWaitMs: options.ackWaitMs } : {}),
      // Self-healing (append retries, consumer re-creation) is reported, not thrown.
      onEvent: (event) => logger.warn({ ...event, error: 'error' in event ? toPlainError(event.error) : undefined }, event.type),
    });
    return {
      store,
      log: mailbox,
      transport,
      close: async () => {
        await mailbox.close();
        await store.close();
        await transport.close();
      },
    };
  }
  const store = createMemorySnapshotStore();
  const log = createMemoryMailboxLog({ shards: 8 });
  const transport = createMemoryTransport();
  return { store, log, transport, close: async () => void (await Promise.all([log.close(), store.close(), transport.close()])) };
}

class Runtime implements TroupeSystem {
  readonly node: string;
  readonly config: RuntimeConfig;
  readonly clock: Clock;
  readonly root: SupervisorRef;
  readonly terminated: Promise<Termination>;
  private readonly core: ActorSystemCore;
  private readonly rootSupervisor: Supervisor;
  private readonly supervisors = new Map<string, Supervisor>();
  private readonly log: Logger;
  private settle!: (termination: Termination) => void;
  private stopping: Promise<void> | undefined;
  private readonly durable: DurableNode;
  private readonly backends: Backends;
  private stats = { snapshotWrites: 0, snapshotBytes: 0, logAppends: 0 };
  private published: { readonly bus: InspectionBus; readonly stop: () => void } | undefined;

  constructor(options: CreateSystemOptions, log: Logger, backends: Backends) {
    validateSegment(options.name, 'system name');
    const resolved = resolveConfig({ ...options, messageCheck: options.messageCheck ?? envMessageCheck() });
    if ('reason' in resolved) throw new InvalidConfigError(resolved.field, resolved.reason);
    this.config = resolved;
    // Policy problems named where the user wrote them: the system-wide supervision defaults, then the root's policy.
    resolvePolicy(undefined, resolved.supervision, 'supervision');
    resolvePolicy(options.rootPolicy, resolved.supervision, 'rootPolicy');
    this.clock = options.clock ?? systemClock;
    this.log = log;
    this.core = new ActorSystemCore(resolved, this.clock, this.log);
    this.terminated = new Promise((resolve) => (this.settle = resolve));
    const guardian: Parent = {
      address: `${resolved.name}/$guardian`,
      childFailed: (_child: Child, error: ActorFailedError) => this.rootFailed(error),
      childExited: (_child: Child, _reason: ExitReason) => {},
    };
    this.rootSupervisor = this.createSupervisor(resolved.name, guardian, options.rootPolicy, 'permanent', resolved.shutdownTimeoutMs);
    this.root = this.supervisorRef(this.rootSupervisor);
    this.backends = backends;
    this.node = options.nodeId ?? randomBytes(6).toString('hex');
    this.durable = new DurableNode({
      core: this.core,
      store: backends.store,
      log: backends.log,
      logger: this.log,
      nodeId: this.node,
      activate: (record) => this.activate(record),
      ...(options.ackWaitMs === undefined ? {} : { ackWaitMs: options.ackWaitMs }),
    });
    this.core.setDurableRouter((address, event, from, reply) => {
      if (!this.durable.knows(address)) return undefined;
      this.stats.logAppends++;
      const appended = this.durable.send(address, event, from, reply);
      appended.catch(() => {}); // recorded as a dead letter by the node; deliver() callers see the rejection
      return appended;
    });
    if (options.inspection?.publish) {
      const { publish: _publish, ...busOptions } = options.inspection;
      const bus = createInspectionBus(this, { ...busOptions, node: this.node });
      this.published = { bus, stop: publishInspection(bus, backends.transport) };
    }
  }

  get transport(): Transport {
    return this.backends.transport;
  }

  get name(): string {
    return this.config.name;
  }

  get deadLetters() {
    return this.core.deadLetters;
  }

  register<TLogic extends AnyActorLogic>(name: string, logic: TLogic, options?: RegisterOptions): LogicHandle<TLogic> {
    this.core.logics.register(name, logic, options);
    return { name };
  }

  spawn<TLogic extends AnyActorLogic = AnyActorLogic>(logic: LogicHandle<TLogic> | string, options: SpawnOptions): ActorRef<TLogic> {
    this.assertRunning();
    if (typeof options !== 'object' || options === null) throw new InvalidChildSpecError(String(logic), 'options', 'must be an object with an id');
    const parent = this.parentOf(options.parent);
    const logicName = typeof logic === 'string' ? logic : logic.name;
    if (options.durable) {
      validateSegment(options.id, 'id');
      const existing = this.core.cell(childAddress(parent.address, options.id));
      if (existing instanceof DurableCell && existing.logic.name === logicName && existing.state !== 'stopped') return this.core.lookup<TLogic>(existing.address);
    }
    const spec = { logic: logicName, id: options.id, parent, input: options.input, restart: options.restart, shutdownMs: options.shutdownMs, mailboxCapacity: options.mailboxCapacity };
    const cell = options.durable ? this.core.spawnCell(spec, (host, o) => new DurableCell(host, o, this.durableServices(o.address))) : this.core.spawnCell(spec);
    parent.addChild(cell);
    if (options.durable) this.startDurable(cell.address);
    cell.start();
    return this.core.lookup<TLogic>(cell.address);
  }

  /** Recreates a stored durable actor at its recorded address, under its recorded supervisor when it exists. */
  private activate(record: DurableRecord): DurableCell {
    const parent = this.supervisors.get(record.parent) ?? this.rootSupervisor;
    const cell = this.core.spawnCell(
      { logic: record.logic, id: idOf(record.address), parent, input: record.input, restart: record.restart, address: record.address },
      (host, o) => new DurableCell(host, o, this.durableServices(o.address)),
    ) as DurableCell;
    parent.addChild(cell);
    cell.start();
    return cell;
  }

  private startDurable(address: string): void {
    this.durable.remember(address);
    this.durable.start().catch((error: unknown) => this.log.error({ err: toPlainError(error) }, 'durable mailbox consumers failed to start'));
  }

  private durableServices(address: string) {
    return {
      store: this.backends.store,
      key: snapshotKey(address),
      retryDelayMs: (attempt: number) => backoffDelay({ minMs: 100, maxMs: 5_000, factor: 2, jitter: 0.2 }, attempt),
      onWrite: (bytes: number) => {
        this.stats.snapshotWrites++;
        this.stats.snapshotBytes += bytes;
      },
    };
  }

  recover(): Promise<string[]> {
    this.assertRunning();
    return this.durable.recover();
  }

  durabilityStats(): DurabilityStats {
    return { ...this.stats, rejected: this.durable.rejected };
  }

  supervisor(id: string, policy?: PolicyOptions, options: SupervisorOptions = {}): SupervisorRef {
    this.assertRunning();
    validateSegment(id, 'supervisor id');
    const parent = this.parentOf(options.parent);
    const supervisor = this.createSupervisor(childAddress(parent.address, id), parent, policy, options.restart ?? 'permanent', options.shutdownMs ?? Infinity);
    parent.addChild(supervisor);
    return this.supervisorRef(supervisor);
  }

  lookup<TLogic extends AnyActorLogic = AnyActorLogic>(address: string): ActorRef<TLogic> {
    return this.core.lookup<TLogic>(address);
  }

  subscribe(listener: RuntimeEventListener): () => void {
    return this.core.events.subscribe(listener);
  }

  tree(): TreeNode {
    return this.treeOf(this.rootSupervisor);
  }

  private treeOf(node: Child): TreeNode {
    if (node instanceof Supervisor) {
      return { kind: 'supervisor', address: node.address, strategy: node.policy.strategy, state: node.state, restarts: node.restarts, children: node.childList.map((c) => this.treeOf(c)) };
    }
    const cell = node as ActorCell;
    return {
      kind: 'actor',
      address: cell.address,
      logic: cell.logic.name,
      version: cell.logic.version,
      state: cell.state,
      status: cell.getSnapshot()?.status,
      incarnation: cell.incarnation,
      restartType: cell.restartType,
      queued: cell.queued,
      dropped: cell.dropped,
    };
  }

  describe(address: string): ActorDescription | undefined {
    const cell = this.core.cell(address);
    if (!cell) return undefined;
    const logic = cell.logic.logic as { definition?: unknown; root?: StateNodeLike };
    const definition = logic.definition === undefined ? undefined : withEventless(JSON.parse(JSON.stringify(logic.definition)), logic.root);
    return { address, logic: cell.logic.name, version: cell.logic.version, definition };
  }

  inspect(address: string, observer: (event: InspectionEvent) => void): () => void {
    const cell = this.core.cell(address);
    if (!cell) return () => {};
    cell.setInspector(observer);
    return () => cell.setInspector(undefined);
  }

  trace(workflowId: string): readonly TraceEntry[] {
    return this.core.traces.get(workflowId);
  }

  shutdown(options: { timeoutMs?: number } = {}): Promise<void> {
    this.stopping ??= this.stopAll(options.timeoutMs ?? this.config.shutdownTimeoutMs, { reason: 'shutdown' });
    return this.stopping;
  }

  private async stopAll(timeoutMs: number, termination: Termination): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    // The overall bound uses real time: shutdown must end even when a test's manual clock stands still.
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([this.rootSupervisor.stop(false), deadline]);
    clearTimeout(timer);
    this.core.markStopped();
    if (this.published) {
      // The last records (the stops of the shutdown) go out before the transport closes.
      this.published.bus.flush();
      this.published.stop();
      this.published.bus.close();
    }
    await this.durable.stop();
    await this.backends.close().catch((error: unknown) => this.log.warn({ err: toPlainError(error) }, 'closing durable backends failed'));
    this.core.events.publish({ type: 'rt.system.shutdown', system: this.name, ts: this.clock.now() });
    this.settle(termination);
  }

  private rootFailed(error: ActorFailedError): void {
    const report = toPlainError(error);
    this.log.fatal({ system: this.name, report }, 'root supervisor failed: shutting the system down');
    this.core.events.publish({ type: 'rt.system.failed', system: this.name, report, ts: this.clock.now() });
    this.stopping ??= this.stopAll(this.config.shutdownTimeoutMs, { reason: 'failed', report });
  }

  private createSupervisor(address: string, parent: Parent, policy: PolicyOptions | undefined, restartType: RestartType, shutdownMs: number): Supervisor {
    const resolved = resolvePolicy(policy, this.config.supervision, `supervisor(${address}).policy`);
    this.core.reserve(address);
    const supervisor = new Supervisor(this.core, { address, parent, policy: resolved, restartType, shutdownMs });
    this.supervisors.set(address, supervisor);
    if (this.core.events.active) {
      this.core.events.publish({ type: 'rt.supervisor.started', address, parent: parent.address, strategy: resolved.strategy, ts: this.clock.now() });
    }
    return supervisor;
  }

  private parentOf(parent: SupervisorRef | string | undefined): Supervisor {
    if (parent === undefined) return this.rootSupervisor;
    const address = typeof parent === 'string' ? parent : parent.address;
    const supervisor = this.supervisors.get(address);
    if (!supervisor || supervisor.state === 'stopped') throw new InvalidChildSpecError(address, 'parent', 'is not a running supervisor of this system');
    return supervisor;
  }

  private supervisorRef(supervisor: Supervisor): SupervisorRef {
    const supervisors = this.supervisors;
    return {
      address: supervisor.address,
      id: supervisor.address.slice(supervisor.address.lastIndexOf('/') + 1),
      children: () => supervisor.childList.map((c) => c.address),
      get restarts() {
        return supervisor.restarts;
      },
      stop: async () => {
        await supervisor.stop(true);
        supervisors.delete(supervisor.address);
      },
    };
  }

  private assertRunning(): void {
    if (this.stopping || this.core.isStopped) throw new SystemStoppedError(this.name);
  }
}

interface StateNodeLike {
  readonly id: string;
  readonly states?: Record<string, StateNodeLike>;
  readonly always?: ReadonlyArray<{ readonly target?: ReadonlyArray<{ readonly id: string }> }>;
}

/** XState's `definition` leaves out eventless (`always`) transitions; the inspector draws them too (issue 5). */
function withEventless(json: Record<string, unknown>, node: StateNodeLike | undefined): Record<string, unknown> {
  if (node === undefined) return json;
  if (node.always && node.always.length > 0) {
    json['always'] = node.always.map((t) => ({ source: `#${node.id}`, target: (t.target ?? []).map((n) => `#${n.id}`), eventType: '' }));
  }
  const states = json['states'] as Record<string, Record<string, unknown>> | undefined;
  for (const [key, child] of Object.entries(node.states ?? {})) {
    const childJson = states?.[key];
    if (childJson !== undefined) withEventless(childJson, child);
  }
  return json;
}

function envMessageCheck(): MessageCheck | undefined {
  const value = process.env['TROUPE_MESSAGE_CHECK'];
  return value === 'roundtrip' || value === 'plain' ? value : undefined;
}

function createPinoLogger(options: CreateSystemOptions, name: string): Logger {
  const level = options.logLevel ?? (process.env['TROUPE_LOG_LEVEL'] as LogLevel | undefined) ?? 'info';
  const base = { systemId: name };
  const instance = options.logDestination ? pino({ level, base }, options.logDestination as never) : pino({ level, base });
  return instance as unknown as Logger;
}
