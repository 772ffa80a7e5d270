/**
 * The actor core (L1): the local registry of cells, message checks, tell/ask routing, dead letters and the
 * event stream. It knows nothing of supervision, transports or persistence: parents come in through the
 * `Parent` seam and remote addresses through `setRemoteResolver` (protoactor's RegisterAddressResolver).
 */
import { sendingContext } from '../observability/propagation.js';
import type { Context } from '@opentelemetry/api';
import type { EventObject } from 'xstate';
import type { RuntimeConfig } from '../config.js';
import { roundTrip } from '../codec/index.js';
import { findNonPlainData } from '../codec/plain-data.js';
import {
  DeadLetterError,
  DuplicateActorError,
  InvalidChildSpecError,
  InvalidConfigError,
  InvalidMessageError,
  MailboxFullError,
  SystemStoppedError,
  TimeoutError,
} from '../errors.js';
import type { Logger } from '../log/index.js';
import { ActorCell, type CellOptions, type SnapshotListener } from './actor-cell.js';
import { AddressRef, type ActorRef, type AskOptions, type RefHost } from './actor-ref.js';
import { childAddress, parseAddress, validateSegment } from './address.js';
import type { CellHost } from './cell-host.js';
import type { Clock } from './clock.js';
import { DeadLetterOffice } from './dead-letters.js';
import { EventStream } from './events.js';
import { LogicRegistry } from './logic-registry.js';
import { PendingAsk, type Message, type ReplyTarget } from './message.js';
import type { Parent, RestartType } from './parent.js';
import { TraceStore, traceEntryId, type TraceEntry } from './trace-store.js';

export interface CellSpec {
  readonly logic: string;
  readonly id: string;
  readonly parent: Parent;
  readonly input?: unknown;
  readonly restart?: RestartType;
  readonly shutdownMs?: number;
  readonly mailboxCapacity?: number;
  /** Keeps a restored actor's recorded address even when its recorded parent is gone. */
  readonly address?: string;
}

/** Builds the cell for a spec: a plain ActorCell, or a subclass such as a durable cell. */
export type CellFactory = (host: CellHost, options: CellOptions) => ActorCell;

/**
 * Routes sends to addresses whose mailbox is a durable log. Returns the append promise when it took the
 * message, undefined when the address is not durable (then the local path applies).
 */
export type DurableRouter = (
  address: string,
  event: EventObject,
  from: string | undefined,
  reply: ReplyTarget | undefined,
  msgId?: string,
  /** `deliver()`: the sender says the address is durable, though this node may never have seen it. */
  explicit?: boolean,
  /** The OpenTelemetry context it was sent in, to travel with it (only when an SDK traces and telemetry is on). */
  trace?: Context,
) => Promise<unknown> | undefined;

/** Takes each trace entry this node records for the first time, with its stable id (a durable trace log). */
export type TraceSink = (entry: TraceEntry, id: string) => void;

export interface ResultWaitOptions {
  readonly timeoutMs?: number;
}

/** Waits for the final output of the actor at `address` (see TroupeSystem.result). */
export type ResultResolver = (address: string, options: ResultWaitOptions) => Promise<unknown>;

/** Delivers to addresses this node does not host; returns false when it cannot (then: dead letter). */
export type RemoteResolver = (address: string, event: EventObject, from: string | undefined, reply: ReplyTarget | undefined, trace?: Context) => boolean;

const RESTART_TYPES: readonly RestartType[] = ['permanent', 'transient', 'temporary'];

export class ActorSystemCore implements CellHost, RefHost {
  readonly logics = new LogicRegistry();
  /** OpenTelemetry on (the system's `telemetry`): messages carry their context and handling is a span, when an SDK traces. */
  tracing = true;
  readonly events: EventStream;
  readonly deadLetters: DeadLetterOffice;
  readonly traces = new TraceStore();
  private readonly cells = new Map<string, ActorCell>();
  /** Addresses owned by something other than a cell (supervisors): they accept no messages. */
  private readonly reserved = new Set<string>();
  private remote: RemoteResolver | undefined;
  private durable: DurableRouter | undefined;
  private results: ResultResolver | undefined;
  private traceSink: TraceSink | undefined;
  private readonly traceListeners: Array<(entry: TraceEntry) => void> = [];
  private stopped = false;

  constructor(
    readonly config: RuntimeConfig,
    readonly clock: Clock,
    readonly log: Logger,
  ) {
    this.events = new EventStream((error) => log.error({ err: error }, 'runtime event listener threw'));
    this.deadLetters = new DeadLetterOffice(this.events, log, () => clock.now(), config.deadLetterLogWindowMs);
  }

  get name(): string {
    return this.config.name;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  setRemoteResolver(resolver: RemoteResolver | undefined): void {
    this.remote = resolver;
  }

  setTraceSink(sink: TraceSink | undefined): void {
    this.traceSink = sink;
  }

  setDurableRouter(router: DurableRouter | undefined): void {
    this.durable = router;
  }

  /** Claims an address for a non-cell owner (a supervisor). */
  reserve(address: string): void {
    if (this.cells.has(address) || this.reserved.has(address)) throw new DuplicateActorError(address);
    this.reserved.add(address);
  }

  release(address: string): void {
    this.reserved.delete(address);
  }

  /**
   * Creates a cell under `spec.parent`; validates the spec first (errors name the field). The caller attaches it to
   * its parent and then calls `start()`: a failure of the first start must find the parent already knowing the child.
   */
  spawnCell(spec: CellSpec, factory: CellFactory = (host, options) => new ActorCell(host, options)): ActorCell {
    if (this.stopped) throw new SystemStoppedError(this.name);
    validateSegment(spec.id, 'id');
    const entry = this.logics.get(spec.logic);
    const address = spec.address ?? childAddress(spec.parent.address, spec.id);
    const restartType = spec.restart ?? 'transient';
    if (!RESTART_TYPES.includes(restartType)) throw new InvalidChildSpecError(address, 'restart', `must be one of ${RESTART_TYPES.join(', ')}`);
    const shutdownMs = spec.shutdownMs ?? this.config.shutdownTimeoutMs;
    if (!Number.isFinite(shutdownMs) || shutdownMs < 0) throw new InvalidChildSpecError(address, 'shutdownMs', 'must be a finite number >= 0');
    const mailboxCapacity = spec.mailboxCapacity ?? this.config.mailboxCapacity;
    if (!Number.isInteger(mailboxCapacity) || mailboxCapacity < 1) throw new InvalidChildSpecError(address, 'mailboxCapacity', 'must be an integer >= 1');
    if (spec.input !== undefined) this.checkPayload(spec.input);
    if (this.cells.has(address) || this.reserved.has(address)) throw new DuplicateActorError(address);
    const cell = factory(this, { address, id: spec.id, logic: entry, input: spec.input, parent: spec.parent, restartType, shutdownMs, mailboxCapacity });
    this.cells.set(address, cell);
    if (this.events.active) this.events.publish({ type: 'rt.actor.spawned', address, logic: entry.name, parent: spec.parent.address, ts: this.clock.now() });
    return cell;
  }

  cell(address: string): ActorCell | undefined {
    return this.cells.get(address);
  }

  /** Local cells, in spawn order. */
  allCells(): IterableIterator<ActorCell> {
    return this.cells.values();
  }

  lookup<TLogic extends import('xstate').AnyActorLogic = import('xstate').AnyActorLogic>(address: string): ActorRef<TLogic> {
    parseAddress(address);
    return new AddressRef<TLogic>(this, address);
  }

  // ---- messages -------------------------------------------------------------------------------

  tell(address: string, event: unknown, from: string | undefined): void {
    this.deliver(address, this.checkEvent(event), from, undefined);
  }

  /** A tell whose event the wire codec has already validated as a plain-data event (decodeEventEnvelope). */
  tellDecoded(address: string, event: EventObject, from: string | undefined): void {
    this.deliver(address, event, from, undefined);
  }

  ask(address: string, event: unknown, options: AskOptions | undefined): Promise<unknown> {
    const timeoutMs = options?.timeoutMs ?? this.config.askTimeoutMs;
    if (!(Number.isFinite(timeoutMs) && timeoutMs >= 0)) return Promise.reject(new InvalidConfigError('ask.timeoutMs', 'must be a finite number >= 0'));
    let checked: EventObject;
    try {
      checked = this.checkEvent(event);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      const pending = new PendingAsk(resolve, reject, (timer) => this.clock.clearTimeout(timer));
      pending.timer = this.clock.setTimeout(
        () => pending.reject(new TimeoutError(`ask to ${address} (${checked.type}) timed out after ${timeoutMs} ms`, timeoutMs)),
        timeoutMs,
      );
      this.deliver(address, checked, undefined, pending);
    });
  }

  /** Resolves once the message is stored in the actor's durable mailbox; rejects for a non-durable address. */
  deliverDurably(address: string, event: unknown): Promise<void> {
    let checked: EventObject;
    try {
      checked = this.checkEvent(event);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.stopped) return Promise.reject(new DeadLetterError(address, 'system stopped'));
    try {
      parseAddress(address);
    } catch (error) {
      return Promise.reject(error);
    }
    if (address !== this.name && !address.startsWith(`${this.name}/`)) {
      return Promise.reject(new DeadLetterError(address, `not an address of system ${this.name}`));
    }
    // A local non-durable actor or a supervisor is not durable; any other address of this system may be hosted by
    // another process: the message is stored in its durable mailbox (an address no one hosts ends in the DLQ).
    const local = this.cells.get(address) !== undefined || this.reserved.has(address);
    const appended = this.durable?.(address, checked, undefined, undefined, undefined, !local, this.sendingContext());
    if (appended === undefined) return Promise.reject(new DeadLetterError(address, 'not a durable actor'));
    return appended.then(() => undefined);
  }

  tellFrom(from: string, to: string, event: EventObject, msgId?: string): void {
    try {
      this.deliver(to, this.checkEvent(event), from, undefined, msgId);
    } catch (error) {
      // A machine's bad tellTo must not throw inside XState's emit: record it instead.
      this.deadLetters.record(to, from, typeof event?.type === 'string' ? event.type : '?', `invalid: ${(error as Error).message}`);
    }
  }

  askFrom(from: string, to: string, event: EventObject, timeoutMs: number | undefined): Promise<unknown> {
    void from;
    return this.ask(to, event, timeoutMs === undefined ? undefined : { timeoutMs });
  }

  /** The context a message sent now belongs to: undefined unless an OpenTelemetry SDK traces and telemetry is on. */
  private sendingContext(): Context | undefined {
    return this.tracing ? sendingContext() : undefined;
  }

  private deliver(address: string, event: EventObject, from: string | undefined, reply: ReplyTarget | undefined, msgId?: string): void {
    const sent = this.sendingContext();
    const message: Message = sent === undefined ? { event, from, reply } : { event, from, reply, trace: sent };
    if (this.stopped) return this.undeliverable(address, message, 'system stopped');
    if (this.durable?.(address, event, from, reply, msgId, false, sent)) return;
    const cell = this.cells.get(address);
    if (cell === undefined) {
      if (this.reserved.has(address)) return this.undeliverable(address, message, 'supervisors accept no messages');
      if (this.remote?.(address, event, from, reply, sent)) return;
      return this.undeliverable(address, message, 'no actor at this address');
    }
    if (cell.state === 'stopped') return this.undeliverable(address, message, 'actor stopped');
    const accepts = cell.logic.accepts;
    if (accepts !== undefined && !accepts(event.type)) return this.undeliverable(address, message, `unhandled event type ${event.type}`);
    const outcome = cell.enqueue(message);
    if (outcome === 'full') {
      this.deadLetters.record(address, from, event.type, 'mailbox-full');
      reply?.reject(new MailboxFullError(address, cell.capacity));
    } else if (outcome === 'closing') {
      this.undeliverable(address, message, 'actor stopping');
    }
  }

  private undeliverable(address: string, message: Message, reason: string): void {
    this.deadLetter(address, message, reason);
    message.reply?.reject(new DeadLetterError(address, reason));
  }

  /** An event must be plain data with a string `type`; in 'roundtrip' mode it is also copied through the codec. */
  checkEvent(event: unknown): EventObject {
    if (typeof event !== 'object' || event === null || typeof (event as { type?: unknown }).type !== 'string' || (event as EventObject).type.length === 0) {
      throw new InvalidMessageError('$.type', 'an event is an object with a non-empty string type');
    }
    return this.checkPayload(event) as EventObject;
  }

  checkPayload(payload: unknown): unknown {
    const problem = findNonPlainData(payload);
    if (problem) throw new InvalidMessageError(problem.path, problem.reason);
    return this.config.messageCheck === 'roundtrip' ? roundTrip(payload) : payload;
  }

  // ---- CellHost -------------------------------------------------------------------------------

  deadLetter(to: string, message: Message, reason: string): void {
    this.deadLetters.record(to, message.from, message.event.type, reason);
  }

  appendTrace(entry: TraceEntry, replaying = false): void {
    // Workflow ids name NATS subject tokens of the trace stream (issue 8): the same rule as address segments.
    if (typeof entry?.workflowId !== 'string' || !/^[A-Za-z0-9_-]+$/.test(entry.workflowId)) {
      this.log.warn({ entry }, 'trace entry without a workflowId matching [A-Za-z0-9_-]+ ignored');
      return;
    }
    const checked = this.checkPayload(entry) as TraceEntry;
    // Ids are for the durable trace (its subjects) and for telling repeats apart: an incarnation that started fresh
    // emits nothing twice, so on the embedded default its entries skip the hash (the hot path of every step).
    const sink = this.traceSink;
    const id = sink !== undefined || replaying ? traceEntryId(checked) : undefined;
    // A re-run of a transition this node already recorded (a restart from the last snapshot) goes nowhere.
    if (!this.traces.append(checked, id, replaying)) return;
    if (sink !== undefined) sink(checked, id!);
    for (let i = 0; i < this.traceListeners.length; i++) this.traceListeners[i]!(checked);
  }

  /** Calls `listener` with each new trace entry (after the repeats of a re-run are dropped); returns the unsubscribe. */
  onTrace(listener: (entry: TraceEntry) => void): () => void {
    this.traceListeners.push(listener);
    return () => void this.traceListeners.splice(this.traceListeners.indexOf(listener), 1);
  }

  cellStopped(address: string): void {
    this.cells.delete(address);
  }

  // ---- RefHost --------------------------------------------------------------------------------

  readyOf(address: string): Promise<void> {
    const cellReady = (): Promise<void> => this.cells.get(address)?.whenReady() ?? Promise.resolve();
    const gate = this.spawnGates.get(address);
    return gate ? gate.then(cellReady) : cellReady();
  }

  /** Spawns still being checked (NATS: services asked across nodes), by address: `ready` waits for them and fails with them. */
  private readonly spawnGates = new Map<string, Promise<void>>();

  /** Makes `ready` of `address` wait for `gate`, and reject with its error; none clears an earlier refusal. */
  gateReady(address: string, gate: Promise<void> | undefined): void {
    if (gate === undefined) {
      if (this.spawnGates.size > 0) this.spawnGates.delete(address);
      return;
    }
    this.spawnGates.set(address, gate);
    const forget = (): void => void (this.spawnGates.get(address) === gate && this.spawnGates.delete(address));
    // A refused spawn is remembered a little longer than its check, so a `ready` awaited just after still sees why.
    gate.then(forget, () => setTimeout(forget, 60_000).unref());
  }

  snapshotOf(address: string): unknown {
    return this.cells.get(address)?.getSnapshot();
  }

  /** Sets how `result()` is answered (the runtime reads durable results from the store). */
  setResultResolver(resolver: ResultResolver | undefined): void {
    this.results = resolver;
  }

  result(address: string, options: ResultWaitOptions | undefined): Promise<unknown> {
    if (!this.results) return Promise.reject(new DeadLetterError(address, 'results are not available in this system'));
    const gate = this.spawnGates.get(address); // a refused spawn's result is its refusal
    const results = this.results;
    return gate ? gate.then(() => results(address, options ?? {})) : results(address, options ?? {});
  }

  subscribeTo(address: string, listener: SnapshotListener): () => void {
    return this.cells.get(address)?.subscribe(listener) ?? (() => {});
  }

  onEmitted(address: string, type: string, listener: (event: EventObject) => void): () => void {
    return this.cells.get(address)?.on(type, listener) ?? (() => {});
  }

  async stop(address: string): Promise<void> {
    await this.cells.get(address)?.stop(true);
  }

  /** Marks the core stopped: from now on every message is a dead letter. */
  markStopped(): void {
    this.stopped = true;
  }
}
