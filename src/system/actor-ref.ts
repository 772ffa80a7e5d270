/**
 * ActorRef: the location-transparent handle users hold. It names an address, not an incarnation: a ref
 * stays valid across restarts, and a ref from `lookup` resolves its target at each send, so it works for
 * actors that do not exist yet (messages to nobody go to dead letters, and an `ask` fails fast).
 */
import type { AnyActorLogic, EventFromLogic, EventObject, OutputFrom, SnapshotFrom } from 'xstate';
import { ActorTerminatedError, TimeoutError } from '../errors.js';
import { idOf } from './address.js';

export interface AskOptions {
  /** Default: the system's `askTimeoutMs` (5,000 ms). */
  readonly timeoutMs?: number;
}

export interface Subscription {
  unsubscribe(): void;
}

export interface ActorRef<TLogic extends AnyActorLogic = AnyActorLogic> {
  /** `<system>/<path>`, following the supervision tree. */
  readonly address: string;
  /** The last segment of the address. */
  readonly id: string;
  /**
   * Sends without waiting. Throws InvalidMessageError at once for a message that is not plain data;
   * later failures (unknown address, full mailbox, unhandled event type) go to dead letters.
   */
  tell(event: EventFromLogic<TLogic>): void;
  /**
   * Sends and waits for the answer: the machine's `reply(...)`, or the actor's output when it finishes.
   * Rejects with TimeoutError, DeadLetterError, MailboxFullError, InvalidMessageError or ActorFailedError.
   * @example
   * const count = await counter.ask<number>({ type: 'get' }, { timeoutMs: 1_000 });
   */
  ask<TAnswer = unknown>(event: EventFromLogic<TLogic>, options?: AskOptions): Promise<TAnswer>;
  /**
   * Sends to a durable actor and resolves once the message is stored in its durable mailbox (it will be
   * handled even if this process dies now). Rejects with DeadLetterError for an actor that is not durable.
   */
  deliver(event: EventFromLogic<TLogic>): Promise<void>;
  /**
   * Resolves once the actor's first incarnation has started here, so `getSnapshot()` has its state: at once for an
   * ordinary actor; for a durable one once its stored record is read (issue 13) and, for a new actor, its first
   * record is stored — from then on the spawn survives a crash of this process. A durable spawn placed on another
   * node (NATS) is ready once its spawn request is stored, so messages sent after it queue behind it. On NATS a
   * spawn whose named services (its escrow, breakers, agents) run on no node is refused: `ready` rejects with
   * InvalidChildSpecError. Resolves at once when nothing runs at this address here.
   * @example
   * const ref = system.spawn('ticket', { id: 'ticket-42', durable: true });
   * await ref.ready;
   * ref.getSnapshot()?.value;
   */
  readonly ready: Promise<void>;
  /** The current snapshot, or undefined when nothing runs at this address here (a durable one: until `ready`). */
  getSnapshot(): SnapshotFrom<TLogic> | undefined;
  /**
   * Calls `listener` with each new snapshot, across restarts. A throwing listener is treated as a failure
   * of the actor (its supervisor decides), never as an uncaught exception.
   */
  subscribe(listener: (snapshot: SnapshotFrom<TLogic>) => void): Subscription;
  /** Listens to events the machine emits (other than Troupe's own `troupe.*` ones); `'*'` for all. */
  on(type: string, listener: (event: EventObject) => void): Subscription;
  /** A normal exit: never restarted. Resolves when the actor has stopped. */
  stop(): Promise<void>;
  /**
   * The actor's output once it finishes; for a durable actor, its persisted output once its `done` record is
   * stored, from any process of the system, also after the one that ran it died. Rejects with `Aborted` for an
   * aborted workflow (its cause attached) or an actor stopped before it finished, `ActorFailedError` for one its
   * supervisor gave up on, TimeoutError after `timeoutMs` (default: no limit), SystemStoppedError at shutdown.
   * @example
   * const output = await system.spawn('customer-reply', { id: 'ticket-42', durable: true, input }).result({ timeoutMs: 60_000 });
   */
  result<TOutput = OutputFrom<TLogic>>(options?: { readonly timeoutMs?: number }): Promise<TOutput>;
  /**
   * The first snapshot (the current one, or a later one, across restarts) for which `predicate` holds: XState's
   * `waitFor(actor, predicate)` for a Troupe ref, which is not an XState `ActorRef` (`result()` is `toPromise`).
   * Rejects with TimeoutError after `timeoutMs` (default: no limit), ActorTerminatedError when the actor reaches
   * `done` or `stopped` without a match, and with the signal's reason when `signal` aborts.
   * @example
   * const waiting = await ticket.waitFor((s) => s.matches({ draft: 'escalated' }), { timeoutMs: 10_000 });
   */
  waitFor(predicate: (snapshot: SnapshotFrom<TLogic>) => boolean, options?: WaitForOptions): Promise<SnapshotFrom<TLogic>>;
}

export interface WaitForOptions {
  /** Default: no limit. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** What a ref needs from the system; implemented by ActorSystemCore. */
export interface RefHost {
  tell(address: string, event: unknown, from: string | undefined): void;
  ask(address: string, event: unknown, options: AskOptions | undefined): Promise<unknown>;
  deliverDurably(address: string, event: unknown): Promise<void>;
  snapshotOf(address: string): unknown;
  readyOf(address: string): Promise<void>;
  subscribeTo(address: string, listener: (snapshot: any) => void): () => void; // eslint-disable-line @typescript-eslint/no-explicit-any
  onEmitted(address: string, type: string, listener: (event: EventObject) => void): () => void;
  stop(address: string): Promise<void>;
  result(address: string, options: { readonly timeoutMs?: number } | undefined): Promise<unknown>;
}

export class AddressRef<TLogic extends AnyActorLogic = AnyActorLogic> implements ActorRef<TLogic> {
  readonly id: string;

  constructor(
    private readonly host: RefHost,
    readonly address: string,
  ) {
    this.id = idOf(address);
  }

  tell(event: EventFromLogic<TLogic>): void {
    this.host.tell(this.address, event, undefined);
  }

  ask<TAnswer = unknown>(event: EventFromLogic<TLogic>, options?: AskOptions): Promise<TAnswer> {
    return this.host.ask(this.address, event, options) as Promise<TAnswer>;
  }

  deliver(event: EventFromLogic<TLogic>): Promise<void> {
    return this.host.deliverDurably(this.address, event);
  }

  get ready(): Promise<void> {
    return this.host.readyOf(this.address);
  }

  getSnapshot(): SnapshotFrom<TLogic> | undefined {
    return this.host.snapshotOf(this.address) as SnapshotFrom<TLogic> | undefined;
  }

  subscribe(listener: (snapshot: SnapshotFrom<TLogic>) => void): Subscription {
    return { unsubscribe: this.host.subscribeTo(this.address, listener) };
  }

  on(type: string, listener: (event: EventObject) => void): Subscription {
    return { unsubscribe: this.host.onEmitted(this.address, type, listener) };
  }

  stop(): Promise<void> {
    return this.host.stop(this.address);
  }

  result<TOutput = OutputFrom<TLogic>>(options?: { readonly timeoutMs?: number }): Promise<TOutput> {
    return this.host.result(this.address, options) as Promise<TOutput>;
  }

  waitFor(predicate: (snapshot: SnapshotFrom<TLogic>) => boolean, options: WaitForOptions = {}): Promise<SnapshotFrom<TLogic>> {
    return waitForSnapshot(this, predicate, options);
  }

  toJSON(): { address: string } {
    return { address: this.address };
  }
}

/** `ref.waitFor`: checks the current snapshot, then each new one, until the predicate holds or the wait ends. */
function waitForSnapshot<TLogic extends AnyActorLogic>(
  ref: ActorRef<TLogic>, predicate: (snapshot: SnapshotFrom<TLogic>) => boolean, options: WaitForOptions,
): Promise<SnapshotFrom<TLogic>> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted === true) return reject(options.signal.reason);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let subscription: Subscription | undefined;
    let settled = false;
    const end = (settle: () => void): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      subscription?.unsubscribe();
      options.signal?.removeEventListener('abort', onAbort);
      settle();
    };
    const onAbort = (): void => end(() => reject(options.signal?.reason));
    const check = (snapshot: SnapshotFrom<TLogic> | undefined): void => {
      if (snapshot === undefined || settled) return;
      let matched: boolean;
      try {
        matched = predicate(snapshot);
      } catch (error) {
        return end(() => reject(error));
      }
      if (matched) return end(() => resolve(snapshot));
      const status = (snapshot as { status?: unknown }).status;
      // 'error' is not final here: the supervisor may restart the actor, and the ref follows the new incarnation.
      if (status === 'done' || status === 'stopped') end(() => reject(new ActorTerminatedError(ref.address, status)));
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.timeoutMs !== undefined) {
      const ms = options.timeoutMs;
      timer = setTimeout(() => end(() => reject(new TimeoutError(`${ref.address}: no matching snapshot within ${ms} ms`, ms))), ms);
    }
    subscription = ref.subscribe((snapshot) => check(snapshot));
    if (settled) subscription.unsubscribe();
    // A durable actor has its snapshot once its record is read.
    void ref.ready.then(() => check(ref.getSnapshot()));
  });
}
