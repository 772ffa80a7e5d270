/**
 * Statechart definitions across nodes (issue 9): every node answers `troupe.<system>.ctl.describe.<address tokens>`
 * for the actors it runs, so an inspector on any node can draw an actor hosted elsewhere. Only the hosting node
 * answers (the others stay silent, as on the rpc subjects); nobody answering means no node runs it now.
 */
import { decode, encode } from '../codec/index.js';
import { DeadLetterError, TimeoutError, toPlainError } from '../errors.js';
import type { Logger } from '../log/index.js';
import type { ActorSystemCore } from '../system/actor-system.js';
import { addressOfTokens, addressTokens, parseAddress } from '../system/address.js';
import type { Transport, TransportSubscription } from '../transport/transport.js';

/** What `describe` tells about an actor: its logic, version and machine definition (JSON). */
export interface Described {
  readonly logic: string;
  readonly version: number;
  readonly definition: unknown;
}

const REMOTE_TIMEOUT_MS = 2_000;

export class DescribeEndpoint {
  private subscription: TransportSubscription | undefined;

  constructor(
    private readonly core: ActorSystemCore,
    private readonly transport: Transport,
    private readonly describeLocal: (address: string) => Described | undefined,
    private readonly log: Logger,
  ) {}

  private get prefix(): string {
    return `troupe.${this.core.name}.ctl.describe.`;
  }

  start(): void {
    this.subscription ??= this.transport.subscribe(`${this.prefix}>`, (message) => {
      if (message.reply === undefined) return;
      const address = addressOfTokens(message.subject.slice(this.prefix.length));
      try {
        parseAddress(address);
        const described = this.describeLocal(address);
        if (described !== undefined) this.transport.publish(message.reply, encode(described));
      } catch (error) {
        this.log.debug({ err: toPlainError(error), subject: message.subject }, 'describe: ignored a request for no valid address');
      }
    });
  }

  stop(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  /** Asks the node hosting `address` for its definition; undefined when no node runs it now. */
  async remote(address: string, timeoutMs = REMOTE_TIMEOUT_MS): Promise<Described | undefined> {
    parseAddress(address);
    try {
      const answer = decode((await this.transport.request(`${this.prefix}${addressTokens(address)}`, new Uint8Array(0), { timeoutMs })).data) as Partial<Described>;
      if (typeof answer?.logic !== 'string' || typeof answer.version !== 'number') return undefined;
      return { logic: answer.logic, version: answer.version, definition: answer.definition };
    } catch (error) {
      if (error instanceof TimeoutError || error instanceof DeadLetterError) return undefined;
      throw error;
    }
  }
}
