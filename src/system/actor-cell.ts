/**
 * An actor cell: one Troupe actor. It owns a bounded mailbox and the current incarnation, an XState root
 * actor of its own (never an XState child: a parent copies its whole children map on every spawn, which
 * is quadratic). The cell keeps its address and mailbox across incarnations, so a restart loses nothing:
 * while it is held, messages queue (bounded) and the new incarnation gets them in order.
 *
 * Every way an XState root can fail reaches `fail()` and then the parent, never an uncaught exception:
 * the error observer (throwing actions, unhandled invoke/spawn errors, duplicate systemId, a throwing
 * start), a throwing listener of ours (isolated, then reported), and a throwing `createActor`.
 */
import { context, SpanKind, SpanStatusCode, trace, type Context, type Tracer } from '@opentelemetry/api';
import { activeTracer } from '../observability/propagation.js';
import { createActor, type AnyActor, type AnyActorLogic, type EventObject, type Snapshot } from 'xstate';
import { ActorFailedError, DeadLetterError, toPlainError, type FailureKind } from '../errors.js';
import type { Logger } from '../log/index.js';
import type { CellHost } from './cell-host.js';
import { CellInspector, type InspectionObserver } from './cell-inspector.js';
import { CellListeners, type EmittedListener, type SnapshotListener } from './cell-listeners.js';
import { Mailbox } from './mailbox.js';
import type { Message, ReplyTarget } from './message.js';
import type { Child, Parent, RestartMode, RestartType, StopReason } from './parent.js';
import type { RegisteredLogic } from './logic-registry.js';
import { ReplyLine } from './reply-line.js';
import { isTroupeEmitted, routeEmitted } from './emitted.js';

export type CellState = 'running' | 'held' | 'stopped';

/**
 * The incarnation whose `start()` is running: XState catches errors thrown while starting (initial context, entry
 * actions, a throwing callback body) and reports them to the error observer, which names them start errors by this.
 * Module-level rather than a field, so idle actors pay nothing for it.
 */
let starting: AnyActor | undefined;
export type { EmittedListener, SnapshotListener } from './cell-listeners.js';

export interface CellOptions {
  readonly address: string;
  readonly id: string;
  readonly logic: RegisteredLogic;
  readonly input: unknown;
  readonly parent: Parent;
  readonly restartType: RestartType;
  readonly shutdownMs: number;
  readonly mailboxCapacity: number;
}

export class ActorCell implements Child {
  readonly address: string;
  readonly id: string;
  readonly logic: RegisteredLogic;
  readonly restartType: RestartType;
  readonly shutdownMs: number;
  readonly parent: Parent;
  state: CellState = 'running';
  incarnation = 0;
  /** Messages rejected because the mailbox was full. */
  dropped = 0;

  private readonly input: unknown;
  private readonly mailbox: Mailbox<Message>;
  private actor: AnyActor | undefined;
  private scheduled = false;
  private current: Message | undefined;
  private replied = false;
  /** Created on first use, like the listeners and the inspector: most actors never need them. */
  private awaiting: ReplyLine | undefined;
  private lastGood: Snapshot<unknown> | undefined;
  private listeners: CellListeners | undefined;
  /** Created on the first log line: a pino child costs ~0.5 KB and most actors never log. */
  private childLog: Logger | undefined;
  /** Set while a graceful stop waits for the queued messages to be handled; new messages are refused. */
  private onIdle: (() => void) | undefined;
  private stopping: Promise<void> | undefined;
  /** Full XState inspection, attached on demand only: any inspect observer halves `send()` throughput. */
  private inspector: CellInspector | undefined;

  constructor(
    protected readonly host: CellHost,
    options: CellOptions,
  ) {
    this.address = options.address;
    this.id = options.id;
    this.logic = options.logic;
    this.input = options.input;
    this.parent = options.parent;
    this.restartType = options.restartType;
    this.shutdownMs = options.shutdownMs;
    this.mailbox = new Mailbox(options.mailboxCapacity);
  }

  get log(): Logger {
    return (this.childLog ??= this.host.log.child({ actorId: this.address, parentId: this.parent.address }));
  }

  /** Starts the first incarnation, from `snapshot` when restoring a persisted actor. */
  start(snapshot?: Snapshot<unknown>): void {
    this.startIncarnation(snapshot);
  }

  /**
   * Starts once `gate` resolves (a spawn check that asks other nodes); messages queue meanwhile. A rejected gate
   * starts nothing: the caller stops the cell.
   */
  startAfter(gate: Promise<void>): void {
    this.state = 'held';
    gate.then(
      () => {
        if (this.state !== 'held') return; // stopped while waiting
        this.state = 'running';
        this.start();
        this.resumeDrain();
      },
      () => {},
    );
  }

  // ---- hooks for subclasses (durable actors); the defaults cost nothing -----------------------

  /** The clock the next incarnation's timers use. */
  protected incarnationClock(): import('./clock.js').Clock {
    return this.host.clock;
  }

  /** Called right after the incarnation is created, before it starts (its first timers are scheduled in start). */
  protected incarnationCreated(_actor: AnyActor): void {}

  /** Called once the incarnation has started; `restored` when it came from a snapshot. */
  protected incarnationStarted(_actor: AnyActor, _restored: boolean): void {}

  /** Called after a message has been handled without failing the actor. */
  protected handled(_message: Message, _actor: AnyActor): void {}

  /** Called on every new snapshot of the current incarnation. */
  protected snapshotChanged(_snapshot: Snapshot<unknown>): void {}

  /** The message whose handling failed the actor (dead-lettered by the caller; a durable cell settles its receipt). */
  protected messageFailed(_message: Message): void {}

  /** A queued message dropped by a stop (a durable cell settles or keeps its receipt). */
  protected messageDropped(_message: Message): void {}

  /** The id an outbound tell emitted now carries, when it must be deterministic (a durable actor's); else undefined. */
  protected outboundId(): string | undefined {
    return undefined;
  }

  /** A drain pass ended: the mailbox may have room again. */
  protected drained(): void {}

  /** Runs once the queue is handled and before a stop ends the incarnation (a durable cell flushes its last write). */
  protected async beforeStop(): Promise<void> {}

  /** Puts messages back at the head of the mailbox, in order (a durable restart re-applies unpersisted ones). */
  protected requeue(messages: readonly Message[]): void {
    this.mailbox.unshiftAll(messages);
  }

  /** The message being handled, if any. */
  protected get currentMessage(): Message | undefined {
    return this.current;
  }

  /** The snapshot a restart starts from: the last good one for 'last-good', else the initial state. */
  protected restartSnapshot(mode: RestartMode): Snapshot<unknown> | undefined {
    return mode === 'last-good' && this.lastGood ? this.persist(this.lastGood) : undefined;
  }

  /** Settles an ask with the machine's reply (a durable actor waits for its snapshot to be persisted). */
  protected sendReply(target: ReplyTarget, payload: unknown): void {
    try {
      target.resolve(this.host.checkPayload(payload));
    } catch (error) {
      target.reject(error as Error);
    }
  }

  /** The input every incarnation starts with. */
  protected get inputValue(): unknown {
    return this.input;
  }

  /** The running incarnation, if any. */
  protected get incarnationActor(): AnyActor | undefined {
    return this.actor;
  }

  /** Starts handling queued messages (after a subclass finished an asynchronous start). */
  protected resumeDrain(): void {
    if (this.state === 'running' && this.mailbox.size > 0 && !this.scheduled) this.schedule();
  }

  /** Fails the current incarnation as if it had thrown (e.g. a fenced durable write). */
  protected failWith(kind: FailureKind, cause: unknown): void {
    this.fail(kind, cause);
  }

  /** Queues a message; 'full' or 'closing' when it cannot (the caller reports it). */
  enqueue(message: Message): 'queued' | 'full' | 'closing' {
    // A stopped cell's mailbox is never drained again: a message put there would be lost, not refused.
    if (this.onIdle !== undefined || this.state === 'stopped') return 'closing';
    if (!this.mailbox.push(message)) {
      this.dropped++;
      return 'full';
    }
    if (this.state === 'running' && !this.scheduled) this.schedule();
    return 'queued';
  }

  get queued(): number {
    return this.mailbox.size;
  }

  get capacity(): number {
    return this.mailbox.capacity;
  }

  /** Resolves once the first incarnation has started (a durable cell reads its record first). */
  whenReady(): Promise<void> {
    return Promise.resolve();
  }

  getSnapshot(): Snapshot<unknown> | undefined {
    return this.actor?.getSnapshot() ?? this.lastGood;
  }

  /** Persisted form of the current snapshot (for durable stores and the inspector). */
  getPersistedSnapshot(): unknown {
    return this.actor?.getPersistedSnapshot();
  }

  subscribe(listener: SnapshotListener): () => void {
    return (this.listeners ??= new CellListeners()).subscribe(listener);
  }

  /**
   * Switches full XState inspection (microsteps, actions, events) on for this actor, across restarts, for
   * `observer`; returns the switch-off. The observer must not throw (it is called inside XState's processing).
   */
  addInspector(observer: InspectionObserver): () => void {
    this.inspector ??= new CellInspector((error) => this.log.warn({ err: error }, 'inspector threw; inspection switched off for it'));
    return this.inspector.add(observer, this.actor);
  }

  /** Listens to events the machine emits that are not Troupe's own (`troupe.*`). */
  on(type: string, listener: EmittedListener): () => void {
    return (this.listeners ??= new CellListeners()).on(type, listener);
  }

  terminate(): void {
    if (this.state !== 'running') return;
    this.state = 'held';
    this.endIncarnation();
    this.rejectAwaiting(() => new DeadLetterError(this.address, 'actor restarted before answering'));
  }

  restart(mode: RestartMode): void {
    if (this.state === 'stopped') return;
    // A running incarnation (spawned while its supervisor was held) ends first: never two live incarnations.
    this.terminate();
    let snapshot: Snapshot<unknown> | undefined;
    try {
      snapshot = this.restartSnapshot(mode);
    } catch (error) {
      // No snapshot to start from (e.g. a stored version without a migration): a failed start, for the supervisor.
      this.incarnation++;
      this.state = 'running';
      this.fail('start-error', error);
      return;
    }
    if (mode === 'initial') this.lastGood = undefined;
    this.incarnation++;
    this.state = 'running';
    const held = this.mailbox.size;
    this.startIncarnation(snapshot);
    if (this.host.events.active) {
      this.host.events.publish({ type: 'rt.actor.restarted', address: this.address, incarnation: this.incarnation, mode, redelivered: held, ts: this.host.clock.now() });
    }
    if (this.state === 'running' && this.mailbox.size > 0 && !this.scheduled) this.schedule();
  }

  /**
   * Stops for good. A running actor first handles what is already queued (new messages are refused), so a
   * graceful shutdown loses nothing; a held one (failed, awaiting restart) dead-letters its queue.
   */
  stop(notifyParent: boolean, reason: StopReason = notifyParent ? 'stopped' : 'supervisor'): Promise<void> {
    return (this.stopping ??= this.stopAfterQueue(notifyParent, reason));
  }

  private async stopAfterQueue(notifyParent: boolean, reason: StopReason): Promise<void> {
    if (this.state === 'running' && this.mailbox.size > 0) {
      await new Promise<void>((resolve) => (this.onIdle = resolve));
    }
    await this.beforeStop();
    this.state = 'stopped';
    this.endIncarnation();
    for (const message of this.mailbox.drain()) {
      this.host.deadLetter(this.address, message, 'stopped');
      this.messageDropped(message);
      message.reply?.reject(new DeadLetterError(this.address, 'actor stopped'));
    }
    this.rejectAwaiting(() => new DeadLetterError(this.address, 'actor stopped before answering'));
    this.host.cellStopped(this.address);
    if (this.host.events.active) this.host.events.publish({ type: 'rt.actor.stopped', address: this.address, reason, ts: this.host.clock.now() });
    if (notifyParent) this.parent.childExited(this, 'stopped');
  }

  /** The current incarnation started from a snapshot (a restart, a restore): its trace entries may be repeats. */
  private replaying = false;

  private startIncarnation(snapshot: Snapshot<unknown> | undefined): void {
    let actor: AnyActor;
    try {
      const clock = this.incarnationClock();
      // `id` is the Troupe address, so a machine can name itself (`self.id`) in replies and escrow submissions.
      const options = snapshot === undefined ? { id: this.address, input: this.input, clock } : { id: this.address, input: this.input, clock, snapshot };
      actor = createActor(this.logic.logic as AnyActorLogic, options);
      this.incarnationCreated(actor);
      this.inspector?.attach(actor);
    } catch (error) {
      this.fail('start-error', error);
      return;
    }
    this.actor = actor;
    this.replaying = snapshot !== undefined;
    // One observer, and it has an error handler: XState reports an error as uncaught when any observer lacks one.
    // Completion is seen in `next` (status 'done'), which saves a bound function per actor.
    actor.subscribe({
      next: (s: Snapshot<unknown>) => {
        if (actor !== this.actor) return;
        this.snapshotChanged(s);
        if (this.listeners?.watchesSnapshots) this.listeners.notifySnapshot(s, (error) => this.listenerFailed(error));
        if (s.status === 'done') this.completed(actor);
      },
      error: (error: unknown) => actor === this.actor && this.fail(actor === starting ? 'start-error' : 'actor-error', error),
    });
    actor.on('*', (event: EventObject) => actor === this.actor && this.onEmitted(event));
    const outer = starting;
    starting = actor;
    try {
      actor.start();
    } catch (error) {
      this.fail('start-error', error);
    } finally {
      starting = outer;
    }
    if (actor === this.actor) this.incarnationStarted(actor, snapshot !== undefined);
  }

  /** Detaches the incarnation first, so its stop callbacks are ignored. */
  private endIncarnation(): void {
    const actor = this.actor;
    this.actor = undefined;
    if (actor && actor.getSnapshot().status === 'active') {
      try {
        actor.stop();
      } catch (error) {
        this.log.warn({ err: error }, 'stopping an incarnation threw');
      }
    } else if (actor && actor.getSnapshot().status === 'error') {
      stopChildren(actor);
    }
  }

  private schedule(): void {
    this.scheduled = true;
    queueMicrotask(() => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    let budget = this.host.config.drainBatch;
    let handled = 0;
    // Read once per pass: without an SDK, handling costs nothing more (propagation.ts).
    const tracer = this.host.tracing ? activeTracer() : undefined;
    while (this.state === 'running' && budget-- > 0) {
      const message = this.mailbox.shift();
      if (message === undefined) break;
      // Only a message sent within a trace is handled as a span: one sent outside any starts no trace of its own.
      if (tracer === undefined || message.trace === undefined) this.handle(message);
      else this.handleTraced(message, message.trace, tracer);
      handled++;
    }
    this.logic.counts.handled += handled;
    // Yield to the event loop (I/O, timers, other actors) between batches.
    if (this.state === 'running' && this.mailbox.size > 0) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    } else {
      this.onIdle?.();
    }
    this.drained();
  }

  /** `handle` as an OpenTelemetry span, under the context the message was sent in: its outbound messages continue it. */
  private handleTraced(message: Message, parent: Context, tracer: Tracer): void {
    const span = tracer.startSpan(`troupe.handle ${message.event.type}`, {
      kind: SpanKind.CONSUMER,
      attributes: { 'troupe.actor.address': this.address, 'troupe.actor.logic': this.logic.name, 'troupe.event.type': message.event.type, 'troupe.actor.incarnation': this.incarnation },
    }, parent);
    const incarnation = this.incarnation; // a failure holds the cell for its restart, in this incarnation
    context.with(trace.setSpan(parent, span), () => this.handle(message));
    if (this.state === 'held' && this.incarnation === incarnation) span.setStatus({ code: SpanStatusCode.ERROR, message: 'the actor failed handling it' });
    span.end();
  }

  private handle(message: Message): void {
    // `actor` is only set while the incarnation is active: completion and failure detach it.
    const actor = this.actor;
    if (actor === undefined) {
      this.host.deadLetter(this.address, message, 'actor finished');
      message.reply?.reject(new DeadLetterError(this.address, 'actor finished'));
      return;
    }
    this.current = message;
    this.replied = false;
    actor.send(message.event);
    this.current = undefined;
    if (actor !== this.actor) return; // it failed or finished while handling
    const snapshot = actor.getSnapshot();
    if (snapshot.status === 'active') this.lastGood = snapshot;
    if (message.reply && !this.replied && !message.reply.settled) this.awaitReply(message.reply);
    this.handled(message, actor);
  }

  /** A throwing listener is a failure of this actor, handled by its supervisor (never an uncaught throw). */
  private listenerFailed(error: unknown): void {
    queueMicrotask(() => this.fail('listener-error', error));
  }

  private onEmitted(event: EventObject): void {
    try {
      if (isTroupeEmitted(event)) {
        routeEmitted(event, this.host, this.address, {
          reply: (payload) => this.answer(payload),
          outboundId: () => this.outboundId(),
          replaying: this.replaying,
          answerSelf: (answer) => void this.enqueue({ event: answer, from: undefined, reply: undefined }),
        });
        return;
      }
      this.listeners?.notifyEmitted(event);
    } catch (error) {
      this.listenerFailed(error);
    }
  }

  /** A reply answers the ask being handled, or else the oldest ask still waiting (a deferred reply). */
  private answer(payload: unknown): void {
    const target = this.current?.reply && !this.replied ? this.current.reply : this.awaiting?.next();
    if (target === undefined) {
      this.log.warn('reply emitted with no ask waiting');
      return;
    }
    if (target === this.current?.reply) this.replied = true;
    this.sendReply(target, payload);
  }

  private awaitReply(target: ReplyTarget): void {
    (this.awaiting ??= new ReplyLine(this.mailbox.capacity, () => new DeadLetterError(this.address, 'too many unanswered asks'))).wait(target);
  }

  private completed(actor: AnyActor): void {
    const snapshot = actor.getSnapshot() as Snapshot<unknown> & { output?: unknown };
    this.actor = undefined;
    this.lastGood = snapshot;
    if (snapshot.status !== 'done') return;
    const output = snapshot.output;
    // The output answers every ask still waiting, through the same checks (and durable wait) as a reply.
    if (this.current?.reply && !this.replied) this.sendReply(this.current.reply, output);
    this.awaiting?.settleAll((target) => this.sendReply(target, output));
    this.state = 'held';
    this.parent.childExited(this, 'completed');
  }

  private fail(kind: FailureKind, cause: unknown): void {
    if (this.state !== 'running') return;
    this.state = 'held';
    this.endIncarnation();
    const error = new ActorFailedError(this.address, kind, { cause });
    const current = this.current;
    if (current) {
      // Akka's rule: the message that failed is not redelivered; it is dead-lettered and its ask answered.
      this.host.deadLetter(this.address, current, 'handler-failed');
      this.messageFailed(current); // a durable one goes to the dead-letter stream: never redelivered as a poison message
      current.reply?.reject(error);
    }
    this.rejectAwaiting(error);
    this.onIdle?.(); // a graceful stop waiting on this actor need not wait for a restart
    if (this.host.events.active) {
      this.host.events.publish({ type: 'rt.actor.failed', address: this.address, kind, error: toPlainError(error), ts: this.host.clock.now() });
    }
    this.log.error({ err: cause, kind, incarnation: this.incarnation }, 'actor failed');
    this.parent.childFailed(this, error);
  }

  /**
   * `error` may be a factory: an Error captures a stack trace, which costs more than the rest of stopping a finished
   * actor, and most actors (every completed workflow) stop with no ask waiting (issue 3 benchmark).
   */
  private rejectAwaiting(error: Error | (() => Error)): void {
    let reason: Error | undefined;
    this.awaiting?.settleAll((target) => target.reject((reason ??= typeof error === 'function' ? error() : error)));
  }

  private persist(snapshot: Snapshot<unknown>): Snapshot<unknown> {
    const logic = this.logic.logic as AnyActorLogic;
    return logic.getPersistedSnapshot(snapshot) as Snapshot<unknown>;
  }
}

/**
 * XState stops neither the invoked nor the spawned children of an actor that errored (see the TODO on
 * `Actor._stopProcedure`), so their callbacks, timers and promises would outlive the failed incarnation and
 * keep the process alive. Stopping a child goes through its own `_stop` (a root-only `stop()` refuses children).
 */
function stopChildren(actor: AnyActor): void {
  const children = (actor.getSnapshot() as { children?: Record<string, unknown> }).children ?? {};
  for (const child of Object.values(children)) (child as { _stop?: () => void } | undefined)?._stop?.();
}
