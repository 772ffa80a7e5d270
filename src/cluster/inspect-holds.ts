/**
 * Full inspection across nodes (issue 9), the asking side: a hold switches full XState inspection of an actor
 * another node runs on, as a lease (inspect-endpoint.ts) renewed every third of its period while the hold lasts.
 * `release()` says `off` at once; a holder that dies without it (its node killed) stops renewing, and the hosting
 * node switches inspection off when the lease lapses. Renewals and `off` are plain publishes (at most once): a
 * lost renewal is covered by the next two, a lost `off` by the lapse. A renewal also reaches an actor's new node
 * when it moved (durable actors follow their shard), which takes the lease up there.
 */
import { randomBytes } from 'node:crypto';
import { decode, encode } from '../codec/index.js';
import { DeadLetterError, InvalidConfigError, TimeoutError } from '../errors.js';
import type { Clock, TimerHandle } from '../system/clock.js';
import { parseAddress } from '../system/address.js';
import type { Transport } from '../transport/transport.js';
import { boundedLeaseMs, INSPECT_PROTOCOL_VERSION, INSPECT_REFUSALS, inspectControlSubject, type InspectRefusal, type InspectRequest } from './inspect-endpoint.js';

/** Default lease of a hold, ms: renewed every 5 s, so a dead holder's inspection ends within 15 s. */
export const DEFAULT_INSPECT_LEASE_MS = 15_000;
/** Holds one node keeps at once. */
export const MAX_INSPECT_HOLDS = 256;
const ANSWER_TIMEOUT_MS = 2_000;

/** A switch-on that took: the node that runs the actor, and the switch-off. */
export interface RemoteInspectionHold {
  readonly ok: true;
  readonly node: string;
  /** Switches this hold off (idempotent). */
  release(): void;
}

/** A switch-on refused: nobody runs the actor (`no-actor`), or its node cannot (the reason says why). */
export interface RemoteInspectionRefused {
  readonly ok: false;
  readonly reason: InspectRefusal | 'too-many-holds' | 'stopped';
  readonly message: string;
}

export type RemoteInspection = RemoteInspectionHold | RemoteInspectionRefused;

interface Held {
  readonly subject: string;
  readonly renewal: Uint8Array;
  readonly off: Uint8Array;
  timer: TimerHandle;
}

export class InspectHolds {
  private readonly held = new Map<string, Held>();
  private pending = 0;
  private stopped = false;

  constructor(
    private readonly o: {
      readonly system: string;
      readonly node: string;
      readonly transport: Transport;
      /** Renewal timers: wall-clock time, as for the other leases. */
      readonly clock: Clock;
    },
  ) {}

  /** Asks the node that runs `address` to switch its full inspection on for this hold. Throws for an invalid address or lease. */
  async hold(address: string, leaseMs = DEFAULT_INSPECT_LEASE_MS): Promise<RemoteInspection> {
    parseAddress(address);
    if (typeof leaseMs !== 'number' || !Number.isFinite(leaseMs)) throw new InvalidConfigError('leaseMs', 'must be a number of ms (300 to 60,000)');
    if (this.stopped) return refused('stopped', 'the system is stopping');
    if (this.held.size + this.pending >= MAX_INSPECT_HOLDS) return refused('too-many-holds', `this node holds ${MAX_INSPECT_HOLDS} remote inspections already`);
    const lease = boundedLeaseMs(leaseMs);
    const holder = `${this.o.node}.${randomBytes(6).toString('hex')}`;
    const request = (op: InspectRequest['op']): Uint8Array => encode({ v: INSPECT_PROTOCOL_VERSION, op, holder, leaseMs: lease } satisfies InspectRequest);
    const held: Held = { subject: inspectControlSubject(this.o.system, address), renewal: request('on'), off: request('off'), timer: undefined };
    const answer = await this.ask(held);
    if (!answer.ok) return answer;
    if (this.stopped) {
      this.o.transport.publish(held.subject, held.off);
      return refused('stopped', 'the system is stopping');
    }
    this.held.set(holder, held);
    this.renewLater(holder, held, lease);
    return {
      ok: true,
      node: answer.node,
      release: () => {
        if (this.held.get(holder) !== held) return;
        this.end(holder, held);
        this.o.transport.publish(held.subject, held.off);
      },
    };
  }

  /** The first `on`, answered by the hosting node; nobody answering means nobody runs the actor now. */
  private async ask(held: Held): Promise<{ readonly ok: true; readonly node: string } | RemoteInspectionRefused> {
    this.pending++;
    let answer: { ok?: unknown; node?: unknown; reason?: unknown; message?: unknown } | null;
    try {
      answer = decode((await this.o.transport.request(held.subject, held.renewal, { timeoutMs: ANSWER_TIMEOUT_MS })).data) as typeof answer;
    } catch (error) {
      if (error instanceof TimeoutError || error instanceof DeadLetterError) return refused('no-actor', INSPECT_REFUSALS['no-actor']);
      throw error;
    } finally {
      this.pending--;
    }
    if (answer?.ok === true && typeof answer.node === 'string') return { ok: true, node: answer.node };
    const reason = typeof answer?.reason === 'string' && Object.hasOwn(INSPECT_REFUSALS, answer.reason) ? (answer.reason as InspectRefusal) : 'no-actor';
    return refused(reason, typeof answer?.message === 'string' ? answer.message.slice(0, 200) : INSPECT_REFUSALS[reason]);
  }

  /** Ends every hold with an `off` (a node shutting down; a killed one leaves them to lapse). */
  stop(): void {
    this.stopped = true;
    for (const [key, held] of this.held) {
      this.end(key, held);
      this.o.transport.publish(held.subject, held.off);
    }
  }

  private renewLater(key: string, held: Held, leaseMs: number): void {
    held.timer = this.o.clock.setTimeout(() => {
      if (this.held.get(key) !== held) return;
      this.o.transport.publish(held.subject, held.renewal);
      this.renewLater(key, held, leaseMs);
    }, Math.floor(leaseMs / 3));
  }

  private end(key: string, held: Held): void {
    this.held.delete(key);
    this.o.clock.clearTimeout(held.timer);
  }
}

function refused(reason: RemoteInspectionRefused['reason'], message: string): RemoteInspectionRefused {
  return { ok: false, reason, message };
}
