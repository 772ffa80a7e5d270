/**
 * Every node's actors, from any node (issue 10, `troupe ps`): each node answers `troupe.<system>.ctl.actors` with
 * the actors it runs now; the asker publishes one request with its own reply subject and gathers the answers until
 * every live node has answered or the window closes (a node that stopped meanwhile is simply absent).
 */
import { randomBytes } from 'node:crypto';
import { decode, encode } from '../codec/index.js';
import { toPlainError } from '../errors.js';
import type { Logger } from '../log/index.js';
import type { Transport } from '../transport/transport.js';

/** One actor as `system.actors()` lists it. */
export interface ActorInfo {
  readonly address: string;
  /** The node that runs it. */
  readonly node: string;
  readonly logic: string;
  readonly version: number;
  /** The cell's state: running, held (restart backoff, a service check) or stopped. */
  readonly state: 'running' | 'held' | 'stopped';
  /** XState status of the current incarnation: active, done, error, stopped. */
  readonly status: string | undefined;
  /** The statechart's active state, as dotted paths (parallel regions joined by `, `); empty for non-machines. */
  readonly value: string;
  readonly durable: boolean;
  readonly incarnation: number;
  /** Messages in its mailbox. */
  readonly queued: number;
}

export const DEFAULT_ACTORS_WINDOW_MS = 1_000;

export class ActorsEndpoint {
  private subscription: { unsubscribe(): void } | undefined;

  constructor(
    private readonly system: string,
    private readonly transport: Transport,
    private readonly local: () => ActorInfo[],
    private readonly log: Logger,
  ) {}

  private get subject(): string {
    return `troupe.${this.system}.ctl.actors`;
  }

  start(): void {
    this.subscription ??= this.transport.subscribe(this.subject, (message) => {
      if (message.reply === undefined) return;
      try {
        this.transport.publish(message.reply, encode(this.local()));
      } catch (error) {
        this.log.warn({ err: toPlainError(error) }, 'actors: could not answer a listing request');
      }
    });
  }

  stop(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  /**
   * Every node's actors: the answers to one request, gathered until `expected` nodes answered (when known) or
   * `windowMs` passed. Answers that do not decode as a list are dropped.
   */
  async gather(expected: number | undefined, windowMs = DEFAULT_ACTORS_WINDOW_MS): Promise<ActorInfo[]> {
    const inbox = `_INBOX.troupe.${randomBytes(8).toString('hex')}`;
    const actors: ActorInfo[] = [];
    let answers = 0;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, windowMs);
      const sub = this.transport.subscribe(inbox, (message) => {
        try {
          const list = decode(message.data);
          if (Array.isArray(list)) for (const a of list) if (isActorInfo(a)) actors.push(a);
        } catch (error) {
          this.log.debug({ err: toPlainError(error) }, 'actors: an answer did not decode');
        }
        if (++answers === expected) done();
      });
      function done(): void {
        clearTimeout(timer);
        sub.unsubscribe();
        resolve();
      }
      this.transport.publish(this.subject, new Uint8Array(0), inbox);
    });
    return actors;
  }
}

function isActorInfo(value: unknown): value is ActorInfo {
  const a = value as Partial<ActorInfo> | null;
  return typeof a === 'object' && a !== null && typeof a.address === 'string' && typeof a.node === 'string' && typeof a.logic === 'string';
}
