/**
 * A supervisor: a runtime actor kind (OTP's supervisor is a gen_server, not a special case) that owns
 * dynamic children in start order and decides what an unhandled failure means for them.
 *
 * - Policy (what to do) is the decider; mechanism (how) is the strategy applied below.
 * - Restarts never loop synchronously: they are scheduled on the clock after a backoff delay.
 * - Children are started left to right and terminated/stopped right to left.
 * - Exceeding the restart intensity fails the supervisor once: its children are held and the failure goes
 *   to its own parent, which may restart the whole subtree.
 */
import { backoffDelay } from '../backoff.js';
import { ActorFailedError, SupervisorFailedError, toPlainError } from '../errors.js';
import type { Logger } from '../log/index.js';
import type { ActorSystemCore } from '../system/actor-system.js';
import type { TimerHandle } from '../system/clock.js';
import type { Directive } from '../system/events.js';
import type { Child, ExitReason, Parent, RestartMode, RestartType, StopReason } from '../system/parent.js';
import { decideDirective, type SupervisorPolicy } from './policy.js';
import { recordRestart } from './restart-intensity.js';
import { affectedChildren } from './strategies.js';

export type SupervisorState = 'running' | 'held' | 'stopped';

export interface SupervisorOptions {
  readonly address: string;
  readonly parent: Parent;
  readonly policy: SupervisorPolicy;
  readonly restartType: RestartType;
  readonly shutdownMs: number;
}

export class Supervisor implements Parent, Child {
  readonly address: string;
  readonly parent: Parent;
  readonly policy: SupervisorPolicy;
  readonly restartType: RestartType;
  readonly shutdownMs: number;
  state: SupervisorState = 'running';
  /** Restarts performed over the supervisor's life. */
  restarts = 0;
  private readonly children: Child[] = [];
  private history: readonly number[] = [];
  private readonly timers = new Set<TimerHandle>();
  private log: Logger | undefined;

  constructor(
    private readonly core: ActorSystemCore,
    options: SupervisorOptions,
  ) {
    this.address = options.address;
    this.parent = options.parent;
    this.policy = options.policy;
    this.restartType = options.restartType;
    this.shutdownMs = options.shutdownMs;
  }

  private get logger(): Logger {
    return (this.log ??= this.core.log.child({ supervisor: this.address }));
  }

  /** Children in start order. */
  get childList(): readonly Child[] {
    return this.children;
  }

  addChild(child: Child): void {
    this.children.push(child);
  }

  /**
   * Durable supervision: a recovered durable child brings the restart times of earlier processes, which count
   * toward this supervisor's intensity window as if they had happened here.
   */
  adoptRestarts(times: readonly number[]): void {
    if (times.length === 0) return;
    this.history = [...new Set([...this.history, ...times])].sort((a, b) => a - b);
  }

  childFailed(child: Child, failure: ActorFailedError): void {
    if (this.state !== 'running' || !this.children.includes(child)) return;
    const directive: Directive = child.restartType === 'temporary' ? 'stop' : decideDirective(this.policy, failure);
    if (directive === 'stop') {
      this.report(child, failure, 'stop', [child.address], 0);
      this.remove(child);
      child.abandon?.();
      void child.stop(false);
      return;
    }
    if (directive === 'escalate') {
      this.report(child, failure, 'escalate', [], 0);
      child.abandon?.();
      this.fail(`child ${child.address} escalated`, failure);
      return;
    }
    this.restartAfterBackoff(child, failure, directive);
  }

  childExited(child: Child, reason: ExitReason): void {
    if (!this.children.includes(child)) return;
    if (reason === 'completed' && child.restartType === 'permanent' && this.state === 'running') {
      // OTP: a permanent child is restarted even after a normal exit (and that counts toward intensity).
      this.restartAfterBackoff(child, new ActorFailedError(child.address, 'actor-error', { cause: new Error('permanent child completed') }), 'restart');
      return;
    }
    this.remove(child);
    if (reason === 'completed') void child.stop(false, 'completed');
  }

  private restartAfterBackoff(child: Child, failure: ActorFailedError, directive: 'restart' | 'resume'): void {
    const { history, exceeded } = recordRestart(this.history, this.core.clock.now(), this.policy);
    this.history = history;
    if (exceeded) {
      this.report(child, failure, 'escalate', [], 0);
      child.abandon?.(); // a parent that restarts the subtree runs it again; a root failure leaves it failed
      this.fail(`restart intensity exceeded (${this.policy.intensity} in ${this.policy.periodMs} ms)`, failure);
      return;
    }
    // 'resume' keeps the state: only the failed child, from its last good snapshot.
    const affected = directive === 'resume' ? [child] : affectedChildren(this.policy.strategy, this.children, child);
    for (const other of [...affected].reverse()) if (other !== child) other.terminate();
    const delayMs = backoffDelay(this.policy.backoff, history.length, this.policy.random);
    this.restarts++;
    this.report(child, failure, directive, affected.map((c) => c.address), delayMs);
    const mode: RestartMode = directive === 'resume' ? 'last-good' : 'initial';
    const timer = this.core.clock.setTimeout(() => {
      this.timers.delete(timer);
      if (this.state !== 'running') return;
      for (const c of affected) if (this.children.includes(c)) c.restart(mode);
    }, delayMs);
    this.timers.add(timer);
  }

  /** Gives up: holds every child (mailboxes kept) and escalates to the parent, exactly once. */
  private fail(reason: string, cause: ActorFailedError): void {
    if (this.state !== 'running') return;
    this.holdChildren();
    const error = new SupervisorFailedError(this.address, reason, { offender: cause.address }, { cause });
    this.core.events.publish({ type: 'rt.supervisor.failed', supervisor: this.address, reason: toPlainError(error), ts: this.core.clock.now() });
    // `supervisor` comes from the logger's bindings: repeating it here would write the key twice.
    this.logger.error({ errorContext: 'shutdown', reason, offender: cause.address, err: cause }, 'supervisor gave up');
    this.parent.childFailed(this, new ActorFailedError(this.address, 'escalated', { cause: error }));
  }

  terminate(): void {
    if (this.state !== 'running') return;
    this.holdChildren();
  }

  private holdChildren(): void {
    this.state = 'held';
    this.cancelTimers();
    for (const child of [...this.children].reverse()) child.terminate();
  }

  /** A new incarnation of the subtree: fresh intensity window, children restarted left to right. */
  restart(_mode: RestartMode): void {
    if (this.state === 'stopped') return;
    this.state = 'running';
    this.history = [];
    for (const child of [...this.children]) child.restart('initial');
  }

  async stop(notifyParent: boolean, reason: StopReason = notifyParent ? 'stopped' : 'supervisor'): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.cancelTimers();
    // A shutdown reaches every actor as a shutdown; a supervisor stopped for any other reason stops its children.
    const childReason: StopReason = reason === 'shutdown' ? 'shutdown' : 'supervisor';
    for (const child of [...this.children].reverse()) {
      await withTimeout(child.stop(false, childReason), child.shutdownMs, this.core, () =>
        this.logger.warn({ child: child.address, shutdownMs: child.shutdownMs }, 'child did not stop in time; abandoned'),
      );
    }
    this.children.length = 0;
    this.core.release(this.address);
    if (this.core.events.active) this.core.events.publish({ type: 'rt.actor.stopped', address: this.address, reason, ts: this.core.clock.now() });
    if (notifyParent) this.parent.childExited(this, 'stopped');
  }

  private remove(child: Child): void {
    const index = this.children.indexOf(child);
    if (index >= 0) this.children.splice(index, 1);
  }

  private cancelTimers(): void {
    for (const timer of this.timers) this.core.clock.clearTimeout(timer);
    this.timers.clear();
  }

  private report(child: Child, failure: ActorFailedError, directive: Directive, affected: string[], delayMs: number): void {
    const restartCount = this.history.length;
    const reason = toPlainError(failure.cause ?? failure);
    if (this.core.events.active) {
      this.core.events.publish({
        type: 'rt.supervisor.decision',
        supervisor: this.address,
        child: child.address,
        reason,
        directive,
        restartCount,
        affected,
        delayMs,
        ts: this.core.clock.now(),
      });
    }
    const line = { child: child.address, reason: reason.message, directive, restartCount, delayMs }; // + `supervisor` from the bindings
    if (directive === 'escalate') this.logger.error(line, 'supervisor decision');
    else this.logger.warn(line, 'supervisor decision');
  }
}

/** Waits for `work`, but at most `ms` on the system clock; calls `onTimeout` when it gives up. */
function withTimeout(work: Promise<void>, ms: number, core: ActorSystemCore, onTimeout: () => void): Promise<void> {
  // A supervisor's own shutdown bound is Infinity (OTP's default for supervisors): wait for its children.
  if (!Number.isFinite(ms)) return work.catch(() => {});
  return new Promise<void>((resolve) => {
    const timer = core.clock.setTimeout(() => {
      onTimeout();
      resolve();
    }, ms);
    work.then(
      () => {
        core.clock.clearTimeout(timer);
        resolve();
      },
      () => {
        core.clock.clearTimeout(timer);
        resolve();
      },
    );
  });
}
