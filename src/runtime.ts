/**
 * The composition root (L4), with runtime/backends.ts the only modules that name implementations (pino here;
 * NATS, JetStream and KV there). It wires the actor core to supervision under a root supervisor whose failure
 * shuts the system down with a report, and the durable node to the backends.
 */
import { pino } from 'pino';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { AnyActorLogic, InputFrom, InspectionEvent } from 'xstate';
import { backoffDelay } from './backoff.js';
import { resolveConfig, type MessageCheck, type RuntimeConfig } from './config.js';
import { Membership, type NodeInfo } from './cluster/membership.js';
import { createNoopMeter, metrics, trace } from '@opentelemetry/api';
import { WorkflowSpans } from './observability/tracing.js';
import { instrumentSystem } from './observability/instruments.js';
import { watchTracing } from './observability/propagation.js';
import { addReadings, type DeclaresGauges, type GaugeReading } from './observability/gauges.js';
import { RpcEndpoint } from './cluster/rpc-endpoint.js';
import { DurableCell } from './durable/durable-cell.js';
import type { DurableRecord, DurableStatus } from './durable/durable-record.js';
import { DurableNode, type SpawnRequest } from './durable/durable-node.js';
import { awaitHostedResult, awaitStoredResult, type ResultOptions } from './durable/durable-result.js';
import type { TraceEntry as PublicTraceEntry } from './trace-entry.js';
import { awaitLocalResult } from './runtime/local-result.js';
import { ShardLeases } from './cluster/shard-leases.js';
import { DescribeEndpoint } from './cluster/describe-endpoint.js';
import { InspectEndpoint } from './cluster/inspect-endpoint.js';
import { InspectHolds, type RemoteInspection } from './cluster/inspect-holds.js';
import { ActorsEndpoint, type ActorInfo } from './cluster/actors-endpoint.js';
import { activeLeaves } from './system/state-value.js';
import { storeJournal, type Journal } from './runtime/journal.js';
import { createMemorySnapshotStore } from './persistence/memory/memory-snapshot-store.js';
import type { SnapshotStore } from './persistence/snapshot-store.js';
import { shardOf } from './persistence/mailbox-log.js';
import { ActorFailedError, InvalidConfigError, InvalidChildSpecError, SystemStoppedError, toPlainError } from './errors.js';
import { createInspectionBus, type InspectionBus } from './inspection/bus.js';
import { publishInspection } from './inspection/transport-sink.js';
import { DEFAULT_REDACT_PATHS, REDACTED, type Logger, type LogLevel } from './log/index.js';
import { snapshotKey } from './persistence/snapshot-store.js';
import { addressOfSubject, type StoredDeadLetter } from './persistence/mailbox-log.js';
import { decodeEventEnvelope } from './codec/index.js';
import { checkTraceTokens } from './persistence/trace-log.js';
import { decode, encode } from './codec/index.js';
import type {
  ActorDescription,
  CreateSystemOptions,
  DeadLetters,
  StoredDeadLetterEntry,
  DurabilityStats,
  FinishedActor,
  RuntimeStats,
  SpawnOptions,
  SupervisorOptions,
  SupervisorRef,
  Termination,
  TreeNode,
  TroupeSystem,
} from './runtime/api.js';
import { openBackends, type Backends } from './runtime/backends.js';
import { describeCell, treeOf } from './runtime/describe.js';
import { escrowClient, type EscrowClient } from './runtime/escrow-client.js';
import { awaitServices, checkServices, declaredServices, SERVICE_GRACE_MS } from './runtime/service-check.js';
import { resolvePolicy, type PolicyOptions } from './supervision/policy.js';
import { Supervisor } from './supervision/supervisor.js';
import type { ActorRef } from './system/actor-ref.js';
import { ActorSystemCore } from './system/actor-system.js';
import { childAddress, idOf, parseAddress, validateSegment } from './system/address.js';
import { systemClock, type Clock } from './system/clock.js';
import type { RuntimeEventListener } from './system/events.js';
import type { LogicHandle, RegisterOptions } from './system/logic-registry.js';
import type { Child, ExitReason, Parent, RestartType } from './system/parent.js';
import type { TraceEntry } from './system/trace-store.js';
import type { Transport } from './transport/transport.js';

/** NATS spawn check (service-check.ts): one lookup's timeout, ms. */
const SERVICE_LOOKUP_MS = 500;
/** How long a service found hosted is trusted without asking again, ms: the check guards spawns, not every step. */
const HOSTED_FRESH_MS = 10_000;


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
  const backends = await openBackends(options, log);
  let runtime: Runtime;
  try {
    runtime = new Runtime(options, log, backends);
  } catch (error) {
    await backends.close(); // a bad setting must not leave a NATS connection open behind the error
    throw error;
  }
  try {
    await runtime.joinCluster();
  } catch (error) {
    await runtime.shutdown().catch(() => undefined); // closes the connection a failed start would leave open
    throw error;
  }
  return runtime;
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
  /**
   * Told once when the system terminates, and removable before: a `result()` that settled takes its listener off,
   * so a long-running system does not keep one closure per `result()` ever called (as `terminated.then` would).
   */
  private readonly terminationListeners = new Set<(termination: Termination) => void>();
  private stopping: Promise<void> | undefined;
  private readonly durable: DurableNode;
  private readonly spans: WorkflowSpans;
  private offMetrics: (() => void) | undefined;
  /** Wall-clock start of this node, as `nodes()` reports it. */
  private readonly startedAt = Date.now();
  /** This node's heartbeat and its view of the others (NATS only). */
  private readonly membership: Membership | undefined;
  /** Every address of the system lives in this process (the memory transport): a missing service is known missing. */
  private readonly oneProcess: boolean;
  private rpc: RpcEndpoint | undefined;
  private describer: DescribeEndpoint | undefined;
  /** Full inspection across nodes (issue 9): leases this node grants, and holds it takes on other nodes' actors. */
  private inspectEndpoint: InspectEndpoint | undefined;
  private inspectHolds: InspectHolds | undefined;
  private actorsEndpoint: ActorsEndpoint | undefined;
  /** The mailbox shards this node hosts (NATS, issue 9); none on the one-process backends, which host every shard. */
  private readonly leases: ShardLeases | undefined;
  /** Set once this node hosts durable actors (its first durable spawn or recover()): it then takes shards. */
  private hosting: Promise<void> | undefined;
  /** How hosting durable actors went, for readiness: set when `hosting` settles. */
  private hostingOutcome: 'started' | Error | undefined;
  /** False for a client node on NATS (`nats.hostsDurable: false`): it never takes shards. */
  private readonly hostsDurable: boolean;
  /** Addresses restored from the shards this node took. */
  private restored: string[] = [];
  private readonly backends: Backends;
  private stats = { snapshotWrites: 0, snapshotBytes: 0, snapshotDeletes: 0, logAppends: 0, acked: 0 };
  private readonly writeListeners: Array<(write: { readonly bytes: number; readonly ms: number }) => void> = [];
  private closingBackends = false;
  private deadLetterView: DeadLetters | undefined;
  private published: { readonly bus: InspectionBus; readonly stop: () => void } | undefined;

  constructor(options: CreateSystemOptions, log: Logger, backends: Backends) {
    const resolved = resolveConfig({ ...options, messageCheck: options.messageCheck ?? envMessageCheck() });
    if ('reason' in resolved) throw new InvalidConfigError(resolved.field, resolved.reason);
    this.config = resolved;
    // Policy problems named where the user wrote them: the system-wide supervision defaults, then the root's policy.
    resolvePolicy(undefined, resolved.supervision, 'supervision');
    resolvePolicy(options.rootPolicy, resolved.supervision, 'rootPolicy');
    this.clock = options.clock ?? systemClock;
    this.log = log;
    this.core = new ActorSystemCore(resolved, this.clock, this.log);
    this.terminated = new Promise((resolve) => {
      this.settle = (termination) => {
        resolve(termination);
        for (const listener of this.terminationListeners) listener(termination);
        this.terminationListeners.clear();
      };
    });
    const guardian: Parent = {
      address: `${resolved.name}/$guardian`,
      childFailed: (_child: Child, error: ActorFailedError) => this.rootFailed(error),
      childExited: (_child: Child, _reason: ExitReason) => {},
    };
    this.rootSupervisor = this.createSupervisor(resolved.name, guardian, options.rootPolicy, 'permanent', resolved.shutdownTimeoutMs);
    this.root = this.supervisorRef(this.rootSupervisor);
    this.backends = backends;
    this.core.setResultResolver((address, options) => this.result(address, options));
    this.node = options.nodeId ?? randomBytes(6).toString('hex');
    const passivateAfterMs = resolvePassivateAfterMs(options.passivateAfterMs);
    this.hostsDurable = options.nats?.hostsDurable ?? true;
    if (typeof this.hostsDurable !== 'boolean') throw new InvalidConfigError('nats.hostsDurable', 'must be a boolean');
    this.durable = new DurableNode({
      core: this.core,
      store: backends.store,
      ...(backends.finished ? { finished: backends.finished } : {}),
      ...(backends.passiveIndex ? { passiveIndex: backends.passiveIndex } : {}),
      ...(backends.purgeEvery ? { compactEvery: backends.purgeEvery } : {}),
      log: backends.log,
      logger: this.log,
      nodeId: this.node,
      activate: (record) => this.activate(record),
      ...(options.ackWaitMs === undefined ? {} : { ackWaitMs: options.ackWaitMs }),
      ...(passivateAfterMs === false ? {} : { passivateAfterMs }),
      // Asks across nodes are answered on this node's reply subject (issue 9).
      ...(backends.transport.kind === 'nats' ? { transport: backends.transport } : {}),
      ...(backends.membership ? { mayHandle: (shard: number) => this.leases!.owns(shard) } : {}),
      spawnHere: (request) => this.spawnRequested(request),
      stopCell: (cell) => cell.stop(false).then(() => cell.parent.childExited(cell, 'stopped')),
    });
    if (backends.membership) {
      // Wall-clock time, not the actor clock: leases are judged across processes.
      const { leaseMs, store } = backends.membership;
      const where = { system: resolved.name, node: this.node, pid: process.pid, host: hostname() };
      const membership = (this.membership = new Membership({
        ...where, store, leaseMs, clock: systemClock, logger: this.log,
        load: () => {
          const hosting = this.hosting !== undefined && this.hostsDurable;
          return { actors: this.actorCount(), shards: this.durable.consumedShards(), hosting, leaseToken: hosting ? this.leases?.probeToken : undefined };
        },
        onChange: (change) => {
          this.log.info({ ...change }, `node ${change.node} ${change.change === 'joined' ? 'joined' : `left (${change.reason})`}`);
          this.core.events.publish({ type: 'rt.cluster.member', ...change, ts: this.clock.now() });
        },
      }));
      this.leases = new ShardLeases({
        ...where, store, leaseMs, shards: backends.log.shards, transport: backends.transport, clock: systemClock, logger: this.log,
        liveNodes: async () => (await membership.nodes()).filter((node) => node.hosting).map(({ node, leaseToken }) => ({ node, token: leaseToken })),
        acquired: (shards) => this.takeShards(shards),
        drain: (shard) => this.durable.releaseShard(shard, 'drain', resolved.shutdownTimeoutMs),
        lost: (shard) => void this.durable.releaseShard(shard, 'lost', 0),
        onChange: (change) => {
          this.core.events.publish({ type: 'rt.cluster.shard', ...change, node: this.node, ts: this.clock.now() });
          if (this.hosting !== undefined) void this.membership?.beatNow(); // nodes() shows the move at once
        },
      });
    }
    // On NATS another process may host an address this one never saw: deliver() stores the message for it (an
    // address no one hosts ends in the DLQ stream). The embedded default is one process: an unknown address is refused.
    const sharedLog = backends.transport.kind === 'nats';
    this.oneProcess = backends.transport.kind === 'memory';
    this.core.setDurableRouter((address, event, from, reply, msgId, explicit, trace) => {
      if (!this.durable.knows(address) && !(explicit && sharedLog)) return undefined;
      this.stats.logAppends++;
      const appended = this.durable.send(address, event, from, reply, msgId, trace);
      appended.catch(() => {}); // recorded as a dead letter by the node; deliver() callers see the rejection
      return appended;
    });
    // OpenTelemetry spans of workflow runs and step attempts (issue 12): no-ops until the application registers an SDK.
    this.spans = new WorkflowSpans(resolved.name);
    if (options.telemetry !== undefined && typeof options.telemetry !== 'boolean') throw new InvalidConfigError('telemetry', 'must be true or false');
    this.core.tracing = options.telemetry !== false;
    if (options.telemetry !== false) {
      watchTracing();
      this.core.onTrace((entry) => this.spans.record(entry as unknown as PublicTraceEntry));
      // The application's metrics pipeline, when it registered one first: Troupe's instruments on its meter.
      const meter = metrics.getMeter('troupe');
      if (meter !== createNoopMeter()) this.offMetrics = instrumentSystem(this, meter);
    }
    if (backends.trace) {
      // The durable trace (issue 8): queued and pipelined by the log, never awaited by the emitting actor.
      const traceLog = backends.trace;
      this.core.setTraceSink((entry, id) => traceLog.append(entry.workflowId, id, encode(entry)));
    }
    if (backends.transport.kind === 'nats') {
      // Non-durable actors on other nodes are reached through the rpc subjects (at most once).
      this.rpc = new RpcEndpoint(this.core, backends.transport, this.node, this.log, {
        isLocalDurable: (address) => this.core.cell(address) instanceof DurableCell,
        learn: (address) => void (address.startsWith(`${this.name}/`) && this.durable.remember(address)),
      });
      this.rpc.start();
      this.core.setRemoteResolver(this.rpc.send);
      // Definitions of the actors this node runs, for inspectors on other nodes (issue 9).
      this.describer = new DescribeEndpoint(this.core, backends.transport, (address) => this.describe(address), this.log);
      this.describer.start();
      // Leases and renewals are judged across processes: wall-clock time, not the actor clock (as for shard leases).
      const cluster = { system: resolved.name, node: this.node, transport: backends.transport, clock: systemClock };
      this.inspectEndpoint = new InspectEndpoint({
        ...cluster, log: this.log,
        local: {
          hosts: (address) => this.core.cell(address) !== undefined,
          hold: (address) => (this.published ? this.published.bus.hold(address) : 'not-published'),
        },
      });
      this.inspectEndpoint.start();
      this.inspectHolds = new InspectHolds(cluster);
      this.actorsEndpoint = new ActorsEndpoint(this.name, backends.transport, () => this.localActors(), this.log);
      this.actorsEndpoint.start();
    }
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

  get deadLetters(): DeadLetters {
    const node = this.durable;
    const office = this.core.deadLetters;
    return (this.deadLetterView ??= {
      count: (reason?: string) => office.count(reason),
      recent: () => office.recent(),
      list: async (query) => (await node.deadLetters(query)).map(describeDeadLetter),
      redeliver: async (dlqSeq) => void (await node.redeliver(dlqSeq)),
    });
  }

  register<TLogic extends AnyActorLogic>(name: string, logic: TLogic, options?: RegisterOptions): LogicHandle<TLogic> {
    this.core.logics.register(name, logic, options);
    return { name };
  }

  spawn<TLogic extends AnyActorLogic = AnyActorLogic>(logic: LogicHandle<TLogic> | string, options: SpawnOptions<InputFrom<TLogic>>): ActorRef<TLogic> {
    this.assertRunning();
    if (typeof options !== 'object' || options === null) throw new InvalidChildSpecError(String(logic), 'options', 'must be an object with an id');
    const parent = this.parentOf(options.parent);
    const logicName = typeof logic === 'string' ? logic : logic.name;
    if (options.durable) {
      validateSegment(options.id, 'id');
      const existing = this.core.cell(childAddress(parent.address, options.id));
      if (existing instanceof DurableCell && existing.logic.name === logicName && existing.state !== 'stopped') return this.core.lookup<TLogic>(existing.address);
    }
    const address = childAddress(parent.address, options.id);
    const gate = this.checkServicesAt(logicName, address, options.input);
    this.core.gateReady(address, gate);
    const spec = { logic: logicName, id: options.id, parent, input: options.input, restart: options.restart, shutdownMs: options.shutdownMs, mailboxCapacity: options.mailboxCapacity };
    if (options.durable && this.leases && !this.durable.hosts(address)) return this.spawnElsewhere(spec, gate);
    const cell = options.durable ? this.core.spawnCell(spec, (host, o) => new DurableCell(host, o, this.durableServices(o.address))) : this.core.spawnCell(spec);
    parent.addChild(cell);
    if (cell instanceof DurableCell) {
      cell.bornAfter(this.durable.birthFor(cell.address));
      this.durable.track(cell);
      this.startDurable(cell.address);
    }
    if (gate === undefined) {
      cell.start();
    } else {
      cell.startAfter(gate);
      gate.catch((error: unknown) => {
        this.log.error({ err: toPlainError(error), address }, 'spawn refused: a service it names runs on no node');
        void cell.stop(false, 'refused').then(() => parent.childExited(cell, 'stopped'));
      });
    }
    return this.core.lookup<TLogic>(cell.address);
  }

  /**
   * The spawn-time service check (issue 13, service-check.ts). The embedded default throws here; on NATS the
   * services not running in this process are asked of the other nodes, and the returned gate holds the actor's
   * start until they answer (undefined: nothing to wait for).
   */
  private checkServicesAt(logicName: string, address: string, input: unknown): Promise<void> | undefined {
    const registered = this.core.logics.has(logicName) ? this.core.logics.get(logicName).logic : undefined;
    if (registered === undefined) return undefined; // a client node starting a logic it does not load: the owner checks nothing it cannot see
    const isHere = (a: string): boolean => this.isHere(a);
    if (this.oneProcess) {
      checkServices(registered, address, input, isHere);
      return undefined;
    }
    const elsewhere = declaredServices(registered, address, input).filter((service) => !isHere(service.address));
    if (elsewhere.length === 0) return undefined;
    return awaitServices(address, elsewhere, { hosted: (a) => this.hostedAnywhere(a), graceMs: SERVICE_GRACE_MS });
  }

  /** Durable spawns this process requested of other nodes, recently (a service spawned a moment before its user). */
  private readonly spawnedElsewhere = new Set<string>();

  /** Addresses found hosted, with when that answer goes stale (ms since epoch): one lookup per service per while. */
  private readonly hostedSeen = new Map<string, number>();

  /** Runs in this process, or this process asked another node to spawn it a moment ago. */
  private isHere(address: string): boolean {
    return this.core.cell(address) !== undefined || this.spawnedElsewhere.has(address);
  }

  private async hostedAnywhere(address: string): Promise<boolean> {
    if (this.isHere(address)) return true; // it may have appeared here while the others were asked
    if ((this.hostedSeen.get(address) ?? 0) > Date.now()) return true;
    // A durable service first: found stored, it is remembered as durable, so this node's messages to it go to its
    // mailbox (exactly once, across a shard handover) instead of the at-most-once relay to whichever node hosts it.
    const stored = await this.durable.isStored(address);
    if (stored) this.durable.remember(address);
    const hosted = stored || (this.describer !== undefined && (await this.describer.remote(address, SERVICE_LOOKUP_MS)) !== undefined);
    if (hosted) {
      if (this.hostedSeen.size >= 1_000) this.hostedSeen.clear();
      this.hostedSeen.set(address, Date.now() + HOSTED_FRESH_MS);
    }
    return hosted;
  }

  /** Recreates a stored durable actor at its recorded address, under its recorded supervisor when it exists. */
  private activate(record: DurableRecord): DurableCell {
    const parent = this.supervisors.get(record.parent) ?? this.rootSupervisor;
    const cell = this.core.spawnCell(
      { logic: record.logic, id: idOf(record.address), parent, input: record.input, restart: record.restart, address: record.address },
      (host, o) => new DurableCell(host, o, this.durableServices(o.address)),
    ) as DurableCell;
    parent.addChild(cell);
    parent.adoptRestarts(record.restarts ?? []);
    this.durable.track(cell);
    cell.activated = true;
    cell.start();
    return cell;
  }

  /**
   * A durable spawn whose shard another node holds (or none yet): the request goes through the actor's mailbox to
   * the shard's owner, which starts it (durable-node `spawnRequested`); the returned ref reaches it from here.
   */
  private spawnElsewhere<TLogic extends AnyActorLogic>(
    spec: { logic: string; id: string; parent: Parent; input: unknown; restart?: RestartType | undefined; mailboxCapacity?: number | undefined },
    gate: Promise<void> | undefined,
  ): ActorRef<TLogic> {
    // An unknown logic fails here, not on the owner — except on a client node, which need not load the logics it
    // starts (the CLI's `troupe run`): there the owner dead-letters a request for a logic it does not know.
    if (this.hostsDurable || this.core.logics.has(spec.logic)) this.core.logics.get(spec.logic);
    const address = childAddress(spec.parent.address, spec.id);
    this.core.checkPayload(spec.input);
    if (this.spawnedElsewhere.size >= 1_000) this.spawnedElsewhere.clear();
    this.spawnedElsewhere.add(address);
    const request = (): Promise<unknown> => this.durable.requestSpawn({
      address, logic: spec.logic, parent: spec.parent.address, input: spec.input,
      ...(spec.restart ? { restart: spec.restart } : {}), ...(spec.mailboxCapacity ? { mailboxCapacity: spec.mailboxCapacity } : {}),
    });
    const requested = gate === undefined ? request() : gate.then(request, (error: unknown) => {
      this.spawnedElsewhere.delete(address);
      this.log.error({ err: toPlainError(error), address }, 'spawn refused: a service it names runs on no node');
      throw error;
    });
    // `ready` of a spawn placed on another node: its request is stored, so a message sent after it queues behind it.
    this.core.gateReady(address, requested.then(() => undefined));
    requested.then(
      () => this.warnIfNoHost(address),
      (error: unknown) => {
        if (!(error instanceof InvalidChildSpecError)) this.log.error({ err: toPlainError(error), address }, 'durable spawn request could not be stored');
      },
    );
    this.startDurable();
    return this.core.lookup<TLogic>(address);
  }

  private warnedNoHost = false;

  /** A client node's spawn request that no node will pick up is reported once, not left to wait silently. */
  private async warnIfNoHost(address: string): Promise<void> {
    if (this.hostsDurable || this.warnedNoHost || !this.membership) return;
    const nodes = await this.membership.nodes().catch(() => undefined);
    if (nodes === undefined || nodes.some((node) => node.hosting)) return;
    this.warnedNoHost = true;
    this.log.warn({ address }, `durable spawn of ${address} is stored, but no node of system ${this.name} hosts durable actors: it starts once one calls system.recover()`);
  }

  /** Starts the actor a spawn request names, on this node, which holds its shard. */
  private spawnRequested(request: SpawnRequest): DurableCell {
    const parent = this.supervisors.get(request.parent) ?? this.rootSupervisor;
    const cell = this.core.spawnCell(
      { logic: request.logic, id: idOf(request.address), parent, input: request.input, restart: request.restart as RestartType | undefined, address: request.address, mailboxCapacity: request.mailboxCapacity },
      (host, o) => new DurableCell(host, o, this.durableServices(o.address)),
    ) as DurableCell;
    parent.addChild(cell);
    cell.bornAfter(request.seq);
    this.durable.remember(request.address);
    this.durable.track(cell);
    cell.start();
    return cell;
  }

  private startDurable(address?: string): void {
    if (address !== undefined) this.durable.remember(address);
    this.hostDurable().catch((error: unknown) => this.log.error({ err: toPlainError(error) }, 'durable mailbox consumers failed to start'));
  }

  /**
   * Starts hosting durable actors (once): on NATS, this node joins the shard leases and consumes the shards it
   * takes; on the one-process backends, it consumes every shard.
   */
  private hostDurable(): Promise<void> {
    this.hosting ??= (async () => {
      if (!this.leases) return this.durable.start();
      if (!this.hostsDurable) return; // a client node: its durable spawns are requests for the hosting nodes
      this.leases.listen();
      await this.membership?.beatNow(); // the others count this node in their share from now
      await this.leases.start();
      await this.membership?.beatNow(); // and nodes() lists the shards it took
    })().then(
      () => void (this.hostingOutcome = 'started'),
      (error: unknown) => {
        this.hostingOutcome = error instanceof Error ? error : new Error(String(error));
        throw error;
      },
    );
    return this.hosting;
  }

  /** This node took these shards: consume them, and restore their stored actors. */
  private async takeShards(shards: readonly number[]): Promise<void> {
    await this.durable.consume(shards);
    this.restored.push(...(await this.durable.recover(new Set(shards))));
  }

  private durableServices(address: string) {
    const leases = this.leases;
    const shard = shardOf(address, this.backends.log.shards);
    // One literal of one shape, every key present (undefined where unclustered): a literal that spreads takes
    // V8's slow path, 4-6 µs and about 5 KB of transient allocation per durable spawn against 1-2 µs (Node 20).
    return {
      shard: leases ? shard : undefined,
      epoch: leases ? () => (leases.owns(shard) ? leases.epochOf(shard) : undefined) : undefined,
      store: this.backends.store,
      finished: this.backends.finished,
      key: snapshotKey(address),
      retryDelayMs: (attempt: number) => backoffDelay({ minMs: 100, maxMs: 5_000, factor: 2, jitter: 0.2 }, attempt),
      closing: () => this.closingBackends,
      onRoom: () => this.durable.pump(address),
      onShardMoved: () => this.durable.shardMoved(address),
      onAcked: (count: number) => {
        this.stats.acked += count;
        this.durable.acked(count);
      },
      onFinal: (status: DurableStatus) => this.durable.finished(address, status),
      onWrite: (bytes: number, ms: number) => {
        this.stats.snapshotWrites++;
        this.stats.snapshotBytes += bytes;
        for (const listener of this.writeListeners) listener({ bytes, ms });
      },
      onDelete: () => void this.stats.snapshotDeletes++,
    };
  }

  result<TOutput = unknown>(address: string, options: ResultOptions = {}): Promise<TOutput> {
    try {
      parseAddress(address);
      if (options.timeoutMs !== undefined && !(options.timeoutMs >= 0)) throw new InvalidConfigError('result.timeoutMs', 'must be a number >= 0');
    } catch (error) {
      return Promise.reject(error);
    }
    const cell = this.core.cell(address);
    const stopped = () => (this.stopping || this.core.isStopped ? this.name : undefined);
    if (cell && !(cell instanceof DurableCell)) {
      return awaitLocalResult(cell, options, (listener) => {
        this.terminationListeners.add(listener);
        return () => this.terminationListeners.delete(listener);
      }) as Promise<TOutput>;
    }
    if (stopped()) return Promise.reject(new SystemStoppedError(this.name));
    const { store, finished } = this.backends;
    if (cell instanceof DurableCell) return awaitHostedResult(cell, address, options, (left) => awaitStoredResult(store, finished, address, left, stopped)) as Promise<TOutput>;
    return awaitStoredResult(store, finished, address, options, stopped) as Promise<TOutput>;
  }

  recover(): Promise<string[]> {
    this.assertRunning();
    if (!this.leases) return this.hostDurable().then(() => this.durable.recover());
    return this.hostDurable().then(() => this.restored.splice(0));
  }

  /** Starts this node's membership heartbeat (NATS): listed by every node's `nodes()` once this resolves. */
  async joinCluster(): Promise<void> {
    await this.membership?.start();
  }

  async nodes(): Promise<NodeInfo[]> {
    if (this.membership) return this.membership.nodes();
    return [{ node: this.node, pid: process.pid, host: hostname(), startedAt: this.startedAt, heartbeatAt: Date.now(), leaseMs: 0, actors: this.actorCount(), shards: this.durable.consumedShards(), hosting: this.hosting !== undefined }];
  }

  /**
   * Why a message to `address` would reach no one, when this node can know it: on the embedded default nothing runs
   * there; on NATS, nothing runs there here and it is not a durable address (whose mailbox would keep the message).
   * Undefined when it is reachable or another node may host it.
   */
  private unreachable(address: string): string | undefined {
    const cell = this.core.cell(address);
    if (cell !== undefined) return cell.state === 'stopped' ? 'the actor stopped' : undefined;
    if (this.oneProcess) return 'no actor at this address';
    return undefined;
  }

  /** Actors this node runs (supervisors are not counted). */
  async actors(options: { readonly windowMs?: number } = {}): Promise<ActorInfo[]> {
    if (options.windowMs !== undefined && !(Number.isFinite(options.windowMs) && options.windowMs >= 0)) throw new InvalidConfigError('actors.windowMs', 'must be a number >= 0 (ms)');
    const live = this.membership ? (await this.membership.nodes()).length : undefined;
    const actors = this.actorsEndpoint ? await this.actorsEndpoint.gather(live, options.windowMs) : this.localActors();
    return actors.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  }

  /** The actors this node runs now (not stopped), as `actors()` lists them. */
  private localActors(): ActorInfo[] {
    const list: ActorInfo[] = [];
    for (const cell of this.core.allCells()) {
      if (cell.state === 'stopped') continue;
      const snapshot = cell.getSnapshot() as { status?: string; value?: unknown } | undefined;
      list.push({
        address: cell.address, node: this.node, logic: cell.logic.name, version: cell.logic.version, state: cell.state,
        status: snapshot?.status, value: activeLeaves(snapshot?.value).join(', '), durable: cell instanceof DurableCell, incarnation: cell.incarnation, queued: cell.queued,
      });
    }
    return list;
  }

  private actorCount(): number {
    let count = 0;
    for (const cell of this.core.allCells()) if (cell.state !== 'stopped') count++;
    return count;
  }

  durabilityStats(): DurabilityStats {
    return { ...this.stats, rejected: this.durable.rejected, passivated: this.durable.passivated, loaded: this.durable.loaded, passiveListed: this.durable.passiveListed, knownAddresses: this.durable.knownAddresses, redeliveries: this.durable.redeliveries };
  }

  async finishedActors(options: { readonly limit?: number } = {}): Promise<FinishedActor[]> {
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new InvalidConfigError('finishedActors.limit', 'must be an integer from 1 to 10,000');
    const records = await this.durable.finishedRecords(limit);
    return records.map((r) => ({ address: r.address, logic: r.logic, parent: r.parent, status: r.status as FinishedActor['status'], snapshot: r.snapshot, updatedAt: r.updatedAt }));
  }

  notReadyBecause(): string | undefined {
    if (this.stopping || this.core.isStopped) return 'the system has stopped';
    // Only a node that hosts durable actors on shared backends has consumers to wait for.
    // A node that never started hosting (no recover(), no durable spawn) serves what it runs; the others take the shards.
    if (this.oneProcess || !this.hostsDurable || this.hosting === undefined) return undefined;
    if (this.hostingOutcome === undefined) return 'taking shard leases and starting durable mailbox consumers';
    if (this.hostingOutcome !== 'started') return `durable mailbox consumers failed to start: ${this.hostingOutcome.message}`;
    return undefined;
  }

  runtimeStats(): RuntimeStats {
    let actors = 0;
    let queued = 0;
    let deepestMailbox = 0;
    const gauges = new Map<string, GaugeReading>();
    for (const cell of this.core.allCells()) {
      if (cell.state === 'stopped') continue;
      actors++;
      const report = (cell.logic.logic as DeclaresGauges).troupeGauges;
      const snapshot = report === undefined ? undefined : cell.getSnapshot();
      if (report !== undefined && snapshot !== undefined) addReadings(gauges, report(snapshot));
      const size = cell.queued;
      queued += size;
      if (size > deepestMailbox) deepestMailbox = size;
    }
    const handledByLogic: Record<string, number> = {};
    for (const logic of this.core.logics.all()) handledByLogic[logic.name] = logic.counts.handled;
    const stats = { actors, queued, deepestMailbox, rpcDropped: this.rpc?.garbage ?? 0, handledByLogic, gauges: [...gauges.values()] };
    if (!this.published) return stats;
    const leases = this.inspectEndpoint?.stats() ?? { leases: 0, lapsed: 0 };
    return { ...stats, inspection: { inspected: this.published.bus.inspected, remoteLeases: leases.leases, lapsedLeases: leases.lapsed } };
  }

  onDurableWrite(listener: (write: { readonly bytes: number; readonly ms: number }) => void): () => void {
    this.writeListeners.push(listener);
    return () => void this.writeListeners.splice(this.writeListeners.indexOf(listener), 1);
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

  escrow(address?: string): EscrowClient {
    return escrowClient({ name: this.name, ask: (to, event, options) => this.core.lookup(to).ask(event, options), unreachable: (to) => this.unreachable(to) }, address);
  }

  subscribe(listener: RuntimeEventListener): () => void {
    return this.core.events.subscribe(listener);
  }

  tree(): TreeNode {
    return treeOf(this.rootSupervisor);
  }

  describe(address: string): ActorDescription | undefined {
    const cell = this.core.cell(address);
    return cell ? describeCell(cell) : undefined;
  }

  async describeAnywhere(address: string): Promise<ActorDescription | undefined> {
    const local = this.describe(address);
    if (local !== undefined || !this.describer) return local;
    const remote = await this.describer.remote(address);
    return remote && { address, ...remote };
  }

  inspect(address: string, observer: (event: InspectionEvent) => void): () => void {
    // Several buses may inspect one actor (a local inspector's, and the published one a remote inspector holds).
    return this.core.cell(address)?.addInspector(observer) ?? (() => {});
  }

  holdRemoteInspection(address: string, options: { readonly leaseMs?: number } = {}): Promise<RemoteInspection> {
    if (this.inspectHolds === undefined) {
      parseAddress(address);
      return Promise.resolve({ ok: false, reason: 'no-actor', message: 'no actor at that address' });
    }
    return this.inspectHolds.hold(address, options.leaseMs);
  }

  /** Entries as Troupe's machines write them (`TraceEntry`); a custom machine's own entries are returned as stored. */
  async trace(workflowId: string): Promise<readonly PublicTraceEntry[]> {
    checkTraceTokens(workflowId);
    if (!this.backends.trace) return this.core.traces.get(workflowId) as unknown as readonly PublicTraceEntry[];
    const records = await this.backends.trace.read(workflowId);
    return records.map((r) => decode(r.data) as PublicTraceEntry);
  }

  private journalView: Journal | undefined;

  journal<T = unknown>(): Journal<T> {
    const open = this.backends.journal ?? (() => Promise.resolve(this.localJournal ??= createMemorySnapshotStore()));
    return (this.journalView ??= storeJournal(open)) as Journal<T>;
  }

  private localJournal: SnapshotStore | undefined;

  onTrace(listener: (entry: PublicTraceEntry) => void): () => void {
    return this.core.onTrace((entry) => listener(entry as unknown as PublicTraceEntry));
  }

  localTrace(workflowId: string): readonly PublicTraceEntry[] {
    return this.core.traces.get(workflowId) as unknown as readonly PublicTraceEntry[];
  }

  shutdown(options: { timeoutMs?: number } = {}): Promise<void> {
    this.stopping ??= this.stopAll(options.timeoutMs ?? this.config.shutdownTimeoutMs, { reason: 'shutdown' });
    return this.stopping;
  }

  private async stopAll(timeoutMs: number, termination: Termination): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    // The overall bound uses real time: shutdown must end even when a test's manual clock stands still.
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([this.rootSupervisor.stop(false, 'shutdown'), deadline]);
    clearTimeout(timer);
    this.core.markStopped();
    if (this.published) {
      // The last records (the stops of the shutdown) go out before the transport closes.
      this.published.bus.flush();
      this.published.stop();
      this.published.bus.close();
    }
    this.rpc?.stop();
    this.describer?.stop();
    this.inspectHolds?.stop(); // says off now; a killed node's holds lapse instead
    this.inspectEndpoint?.stop();
    this.actorsEndpoint?.stop();
    // Unacked messages are redelivered to the next start, so a write still failing at the bound is given up safely.
    await this.durable.stop(timeoutMs);
    await this.leases?.stop(); // after the last durable write, so the others take the shards at once
    await this.membership?.stop(); // the other nodes see this one leave now, not a lease later
    this.spans.close();
    this.offMetrics?.();
    this.closingBackends = true;
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

function envMessageCheck(): MessageCheck | undefined {
  const value = process.env['TROUPE_MESSAGE_CHECK'];
  return value === 'roundtrip' || value === 'plain' ? value : undefined;
}

/**
 * A library's logger: `warn` and above, on stderr (stdout is the application's), unless configured — what a process
 * that embeds Troupe expects from a dependency (issue 13). `logLevel` or TROUPE_LOG_LEVEL turn the detail up.
 */
function createPinoLogger(options: CreateSystemOptions, name: string): Logger {
  const level = options.logLevel ?? (process.env['TROUPE_LOG_LEVEL'] as LogLevel | undefined) ?? 'warn';
  const base = { systemId: name };
  const redact = { paths: [...DEFAULT_REDACT_PATHS, ...(options.logRedact ?? [])], censor: REDACTED };
  // `errWithCause` keeps an error's message as it is and its cause apart: the default serializer appends the
  // cause's message to the error's, which repeats it when the message already says it (issue 13).
  const serializers = { err: pino.stdSerializers.errWithCause };
  const instance = pino({ level, base, redact, serializers, mixin: options.telemetry === false ? undefined : traceIds }, (options.logDestination ?? pino.destination(2)) as never);
  return instance as unknown as Logger;
}

/** A log line written inside a span carries its ids (issue 12), under OTel's log field names. Only lines pay for it. */
function traceIds(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (span === undefined) return {};
  const { traceId, spanId, traceFlags } = span.spanContext();
  return { trace_id: traceId, span_id: spanId, trace_flags: `0${traceFlags.toString(16)}`.slice(-2) };
}

/** A dead-letter stream entry for people: its actor and event, when the stored bytes say. */
function describeDeadLetter(entry: StoredDeadLetter): StoredDeadLetterEntry {
  let event: StoredDeadLetterEntry['event'];
  try {
    event = decodeEventEnvelope(entry.data).payload as StoredDeadLetterEntry['event'];
  } catch {
    event = undefined; // garbage: the reason says why
  }
  const base = { dlqSeq: entry.dlqSeq, address: addressOfSubject(entry.subject)?.address, subject: entry.subject, reason: entry.reason, at: entry.at };
  return { ...base, ...(entry.incarnation === undefined ? {} : { incarnation: entry.incarnation }), ...(event ? { event } : {}) };
}

/** Unloads idle durable actors after five minutes unless told otherwise. */
export const DEFAULT_PASSIVATE_AFTER_MS = 300_000;

function resolvePassivateAfterMs(value: unknown): number | false {
  if (value === undefined) return DEFAULT_PASSIVATE_AFTER_MS;
  if (value === false) return false;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 10) throw new InvalidConfigError('passivateAfterMs', 'must be an integer >= 10 (ms), or false');
  return value;
}
