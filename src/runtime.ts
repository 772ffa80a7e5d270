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
import { WorkflowSpans } from './observability/tracing.js';
import { RpcEndpoint } from './cluster/rpc-endpoint.js';
import { DurableCell } from './durable/durable-cell.js';
import type { DurableRecord, DurableStatus } from './durable/durable-record.js';
import { DurableNode } from './durable/durable-node.js';
import { awaitHostedResult, awaitStoredResult, type ResultOptions } from './durable/durable-result.js';
import type { TraceEntry as PublicTraceEntry } from './trace-entry.js';
import { awaitLocalResult } from './runtime/local-result.js';
import { HostLock } from './durable/host-lock.js';
import { ActorFailedError, DurableHostLockedError, InvalidConfigError, InvalidChildSpecError, SystemStoppedError, toPlainError } from './errors.js';
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
import { checkServices } from './runtime/service-check.js';
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
  private stopping: Promise<void> | undefined;
  private readonly durable: DurableNode;
  private readonly spans: WorkflowSpans;
  /** Wall-clock start of this node, as `nodes()` reports it. */
  private readonly startedAt = Date.now();
  /** This node's heartbeat and its view of the others (NATS only). */
  private readonly membership: Membership | undefined;
  /** Every address of the system lives in this process (the memory transport): a missing service is known missing. */
  private readonly oneProcess: boolean;
  private rpc: RpcEndpoint | undefined;
  /** One durable host per system until shard leases exist (issue 8); none on the one-process memory backends. */
  private readonly hostLock: HostLock | undefined;
  private readonly backends: Backends;
  private stats = { snapshotWrites: 0, snapshotBytes: 0, snapshotDeletes: 0, logAppends: 0 };
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
    this.terminated = new Promise((resolve) => (this.settle = resolve));
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
    this.durable = new DurableNode({
      core: this.core,
      store: backends.store,
      ...(backends.finished ? { finished: backends.finished } : {}),
      ...(backends.purgeEvery ? { compactEvery: backends.purgeEvery } : {}),
      log: backends.log,
      logger: this.log,
      nodeId: this.node,
      activate: (record) => this.activate(record),
      ...(options.ackWaitMs === undefined ? {} : { ackWaitMs: options.ackWaitMs }),
      // Asks across nodes are answered on this node's reply subject (issue 9).
      ...(backends.transport.kind === 'nats' ? { transport: backends.transport } : {}),
    });
    if (backends.hostLock) {
      // Wall-clock time, not the actor clock: the lock is judged across processes.
      const { store, leaseMs } = backends.hostLock;
      const where = { system: resolved.name, node: this.node, pid: process.pid, host: hostname() };
      this.membership = backends.membership && new Membership({
        ...where, ...backends.membership, clock: systemClock, logger: this.log,
        load: () => ({ actors: this.actorCount(), shards: this.durable.consumedShards() }),
        onChange: (change) => {
          this.log.info({ ...change }, `node ${change.node} ${change.change === 'joined' ? 'joined' : `left (${change.reason})`}`);
          this.core.events.publish({ type: 'rt.cluster.member', ...change, ts: this.clock.now() });
        },
      });
      this.hostLock = new HostLock({ ...where, store, leaseMs, transport: backends.transport, clock: systemClock, logger: this.log, onLost: (error) => this.stopHosting(error, 'lost') });
    }
    // On NATS another process may host an address this one never saw: deliver() stores the message for it (an
    // address no one hosts ends in the DLQ stream). The embedded default is one process: an unknown address is refused.
    const sharedLog = backends.transport.kind === 'nats';
    this.oneProcess = backends.transport.kind === 'memory';
    this.core.setDurableRouter((address, event, from, reply, msgId, explicit) => {
      if (!this.durable.knows(address) && !(explicit && sharedLog)) return undefined;
      this.stats.logAppends++;
      const appended = this.durable.send(address, event, from, reply, msgId);
      appended.catch(() => {}); // recorded as a dead letter by the node; deliver() callers see the rejection
      return appended;
    });
    // OpenTelemetry spans of workflow runs and step attempts (issue 12): no-ops until the application registers an SDK.
    this.spans = new WorkflowSpans();
    this.core.onTrace((entry) => this.spans.record(entry as unknown as PublicTraceEntry));
    if (backends.trace) {
      // The durable trace (issue 8): queued and pipelined by the log, never awaited by the emitting actor.
      const traceLog = backends.trace;
      this.core.setTraceSink((entry, id) => traceLog.append(entry.workflowId, id, encode(entry)));
    }
    if (backends.transport.kind === 'nats') {
      // Non-durable actors on other nodes are reached through the rpc subjects (at most once).
      this.rpc = new RpcEndpoint(this.core, backends.transport, this.node, this.log);
      this.rpc.start();
      this.core.setRemoteResolver(this.rpc.send);
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
    if (this.oneProcess) {
      const registered = this.core.logics.get(logicName).logic;
      checkServices(registered, childAddress(parent.address, options.id), options.input, (address) => this.core.cell(address) !== undefined);
    }
    const spec = { logic: logicName, id: options.id, parent, input: options.input, restart: options.restart, shutdownMs: options.shutdownMs, mailboxCapacity: options.mailboxCapacity };
    const cell = options.durable ? this.core.spawnCell(spec, (host, o) => new DurableCell(host, o, this.durableServices(o.address))) : this.core.spawnCell(spec);
    parent.addChild(cell);
    if (cell instanceof DurableCell) {
      cell.bornAfter(this.durable.birthFor(cell.address));
      this.durable.track(cell);
      this.startDurable(cell.address);
    }
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
    parent.adoptRestarts(record.restarts ?? []);
    this.durable.track(cell);
    cell.activated = true;
    cell.start();
    return cell;
  }

  private startDurable(address: string): void {
    this.durable.remember(address);
    this.hostDurable()
      .then(() => this.durable.start())
      .catch((error: unknown) => {
        if (error instanceof DurableHostLockedError) this.stopHosting(error, 'refused');
        else this.log.error({ err: toPlainError(error) }, 'durable mailbox consumers failed to start');
      });
  }

  /** Resolves once this process may host durable actors (it holds the durable host lock, or needs none). */
  private hostDurable(): Promise<void> {
    return this.hostLock?.acquire() ?? Promise.resolve();
  }

  /**
   * Another process hosts the durable actors (issue 8): stop consuming the durable mailboxes and stop the local
   * durable incarnations (as at shutdown: their records stay active, for the holder), so no stale one acts.
   */
  private stopHosting(error: DurableHostLockedError, status: 'refused' | 'lost'): void {
    const plain = toPlainError(error);
    if (status === 'lost') this.log.fatal({ err: plain }, 'durable host lock lost to another process: this node stops hosting durable actors; restart it to host again');
    else this.log.error({ err: plain }, 'durable host lock refused: this node does not host durable actors');
    this.core.events.publish({ type: 'rt.durable.hostLock', status, node: this.node, holder: error.holder, error: plain, ts: this.clock.now() });
    if (status === 'lost') void this.durable.stop(this.config.shutdownTimeoutMs);
    for (const cell of [...this.core.allCells()]) {
      if (cell instanceof DurableCell && cell.state !== 'stopped') void cell.stop(false).then(() => cell.parent.childExited(cell, 'stopped'));
    }
  }

  private durableServices(address: string) {
    return {
      store: this.backends.store,
      ...(this.backends.finished ? { finished: this.backends.finished } : {}),
      key: snapshotKey(address),
      retryDelayMs: (attempt: number) => backoffDelay({ minMs: 100, maxMs: 5_000, factor: 2, jitter: 0.2 }, attempt),
      closing: () => this.closingBackends,
      onRoom: () => this.durable.pump(address),
      onAcked: (count: number) => this.durable.acked(count),
      onFinal: (status: DurableStatus) => this.durable.finished(address, status),
      onWrite: (bytes: number) => {
        this.stats.snapshotWrites++;
        this.stats.snapshotBytes += bytes;
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
    if (cell && !(cell instanceof DurableCell)) return awaitLocalResult(cell, options, this.terminated) as Promise<TOutput>;
    if (stopped()) return Promise.reject(new SystemStoppedError(this.name));
    const { store, finished } = this.backends;
    if (cell instanceof DurableCell) return awaitHostedResult(cell, address, options, (left) => awaitStoredResult(store, finished, address, left, stopped)) as Promise<TOutput>;
    return awaitStoredResult(store, finished, address, options, stopped) as Promise<TOutput>;
  }

  recover(): Promise<string[]> {
    this.assertRunning();
    return this.hostDurable().then(() => this.durable.recover());
  }

  /** Starts this node's membership heartbeat (NATS): listed by every node's `nodes()` once this resolves. */
  async joinCluster(): Promise<void> {
    await this.membership?.start();
  }

  async nodes(): Promise<NodeInfo[]> {
    if (this.membership) return this.membership.nodes();
    return [{ node: this.node, pid: process.pid, host: hostname(), startedAt: this.startedAt, heartbeatAt: Date.now(), leaseMs: 0, actors: this.actorCount(), shards: this.durable.consumedShards() }];
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
  private actorCount(): number {
    let count = 0;
    for (const cell of this.core.allCells()) if (cell.state !== 'stopped') count++;
    return count;
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

  inspect(address: string, observer: (event: InspectionEvent) => void): () => void {
    const cell = this.core.cell(address);
    if (!cell) return () => {};
    cell.setInspector(observer);
    return () => cell.setInspector(undefined);
  }

  /** Entries as Troupe's machines write them (`TraceEntry`); a custom machine's own entries are returned as stored. */
  async trace(workflowId: string): Promise<readonly PublicTraceEntry[]> {
    checkTraceTokens(workflowId);
    if (!this.backends.trace) return this.core.traces.get(workflowId) as unknown as readonly PublicTraceEntry[];
    const records = await this.backends.trace.read(workflowId);
    return records.map((r) => decode(r.data) as PublicTraceEntry);
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
    // Unacked messages are redelivered to the next start, so a write still failing at the bound is given up safely.
    await this.durable.stop(timeoutMs);
    await this.hostLock?.release(); // after the last durable write, so the next process takes over at once
    await this.membership?.stop(); // the other nodes see this one leave now, not a lease later
    this.spans.close();
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
  const instance = pino({ level, base, redact, serializers }, (options.logDestination ?? pino.destination(2)) as never);
  return instance as unknown as Logger;
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
