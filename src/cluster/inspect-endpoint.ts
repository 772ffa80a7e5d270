/**
 * Full inspection across nodes (issue 9), the hosting side: every node listens on
 * `troupe.<system>.ctl.inspect.<address tokens>`, and the node that runs the actor switches full XState inspection of
 * it on in the records it publishes (`inspection: { publish: true }`), so an inspector on another node receives them
 * through its cluster relay. Only the hosting node answers (the others stay silent, as on the describe subjects).
 *
 * Each switch-on is a lease of one holder (an inspector's hold, `inspect-holds.ts`): it lasts `leaseMs` after the
 * last renewal, so an inspector that closed, a node that died or a page that went away without saying `off` costs
 * the hosting node at most one lease period of full inspection (which halves the actor's `send()` throughput).
 *
 *   request  { v: 1, op: 'on' | 'off', holder, leaseMs }   msgpack; `on` with a reply subject takes or renews the
 *                                                         lease and is answered; without one (a renewal) it is not;
 *                                                         `off` (published) ends the holder's lease on any node
 *   answer   { v: 1, ok: true, node } | { v: 1, ok: false, reason, message }
 */
import { decode, encode } from '../codec/index.js';
import { toPlainError } from '../errors.js';
import type { Logger } from '../log/index.js';
import type { Clock, TimerHandle } from '../system/clock.js';
import { addressOfTokens, addressTokens, parseAddress } from '../system/address.js';
import type { Transport, TransportMessage, TransportSubscription } from '../transport/transport.js';

export const INSPECT_PROTOCOL_VERSION = 1;
/** Lease bounds the hosting node applies to what a holder asks, ms: a dead holder costs at most `maxMs`. */
export const INSPECT_LEASE_BOUNDS = { minMs: 300, maxMs: 60_000 } as const;

/** A lease period within `INSPECT_LEASE_BOUNDS`: what the holder asks for and the hosting node grants. */
export function boundedLeaseMs(leaseMs: number): number {
  return Math.min(INSPECT_LEASE_BOUNDS.maxMs, Math.max(INSPECT_LEASE_BOUNDS.minMs, leaseMs));
}
/** Leases one node keeps at once (all holders, all actors); past it a switch-on is refused. */
export const DEFAULT_MAX_INSPECT_LEASES = 1_024;
const MAX_HOLDER_LENGTH = 128;

export interface InspectRequest {
  readonly v: typeof INSPECT_PROTOCOL_VERSION;
  readonly op: 'on' | 'off';
  /** Who holds the lease: the asking node and a hold id (`<node>.<id>`). */
  readonly holder: string;
  readonly leaseMs: number;
}

/** Why a switch-on was refused; `no-actor` is the asker's own conclusion when nobody answered. */
export type InspectRefusal = 'no-actor' | 'not-published' | 'too-many-leases';

export type InspectAnswer =
  | { readonly v: typeof INSPECT_PROTOCOL_VERSION; readonly ok: true; readonly node: string }
  | { readonly v: typeof INSPECT_PROTOCOL_VERSION; readonly ok: false; readonly reason: InspectRefusal; readonly message: string };

export const INSPECT_REFUSALS: Readonly<Record<InspectRefusal, string>> = {
  'no-actor': 'no actor at that address',
  'not-published': 'the node hosting it does not publish inspection records (inspection: { publish: true })',
  'too-many-leases': 'the node hosting it holds too many inspection leases',
};

/** A local switch-on (`InspectionBus.hold`): `live` turns false when the actor stops. */
export interface LocalHold {
  readonly live: boolean;
  release(): void;
}

/** This node's side: whether it runs the actor, and a hold on it (or why not, or undefined when it has none). */
export interface InspectLocal {
  hosts(address: string): boolean;
  hold(address: string): LocalHold | 'not-published' | undefined;
}

export function inspectControlSubject(system: string, address: string): string {
  return `troupe.${system}.ctl.inspect.${addressTokens(address)}`;
}

interface Lease {
  hold: LocalHold;
  timer: TimerHandle;
}

export interface InspectEndpointStats {
  /** Leases held now (remote holders of full inspection on this node). */
  readonly leases: number;
  /** Leases that ended because their holder stopped renewing. */
  readonly lapsed: number;
}

export class InspectEndpoint {
  private subscription: TransportSubscription | undefined;
  private readonly leases = new Map<string, Lease>();
  private lapsed = 0;

  constructor(
    private readonly o: {
      readonly system: string;
      readonly node: string;
      readonly transport: Transport;
      readonly local: InspectLocal;
      /** Lease timers: wall-clock time, as for the other leases (judged across processes). */
      readonly clock: Clock;
      readonly log: Logger;
      readonly maxLeases?: number;
    },
  ) {}

  private get prefix(): string {
    return `troupe.${this.o.system}.ctl.inspect.`;
  }

  start(): void {
    this.subscription ??= this.o.transport.subscribe(`${this.prefix}>`, (message) => this.receive(message));
  }

  /** Stops answering and releases every lease (the node is going away). */
  stop(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    for (const lease of this.leases.values()) this.end(lease);
    this.leases.clear();
  }

  stats(): InspectEndpointStats {
    return { leases: this.leases.size, lapsed: this.lapsed };
  }

  private receive(message: TransportMessage): void {
    const address = addressOfTokens(message.subject.slice(this.prefix.length));
    let request: InspectRequest;
    try {
      parseAddress(address);
      request = parseRequest(decode(message.data));
    } catch (error) {
      this.o.log.debug({ err: toPlainError(error), subject: message.subject }, 'inspect: ignored a malformed request');
      return;
    }
    const key = `${request.holder}\n${address}`;
    if (request.op === 'off') {
      const lease = this.leases.get(key);
      if (lease) this.drop(key, lease);
      return;
    }
    const answer = this.switchOn(key, address, request);
    if (answer !== undefined && message.reply !== undefined) this.o.transport.publish(message.reply, encode(answer));
  }

  /** Takes or renews the lease; undefined (no answer) when this node does not run the actor. */
  private switchOn(key: string, address: string, request: InspectRequest): InspectAnswer | undefined {
    const leaseMs = boundedLeaseMs(request.leaseMs);
    let lease = this.leases.get(key);
    if (lease?.hold.live) {
      this.arm(key, lease, leaseMs);
      return { v: INSPECT_PROTOCOL_VERSION, ok: true, node: this.o.node };
    }
    // A new holder, or one whose actor stopped since (a restart at the same address is held again).
    const hold = this.o.local.hosts(address) ? this.acquire(address, lease === undefined) : undefined;
    if (hold === undefined || typeof hold === 'string') {
      if (lease) this.drop(key, lease);
      return hold === undefined ? undefined : refusal(hold);
    }
    if (lease) lease.hold = hold;
    else this.leases.set(key, (lease = { hold, timer: undefined }));
    this.arm(key, lease, leaseMs);
    return { v: INSPECT_PROTOCOL_VERSION, ok: true, node: this.o.node };
  }

  private acquire(address: string, fresh: boolean): LocalHold | Exclude<InspectRefusal, 'no-actor'> | undefined {
    if (fresh && this.leases.size >= (this.o.maxLeases ?? DEFAULT_MAX_INSPECT_LEASES)) return 'too-many-leases';
    return this.o.local.hold(address);
  }

  private arm(key: string, lease: Lease, leaseMs: number): void {
    if (lease.timer !== undefined) this.o.clock.clearTimeout(lease.timer);
    lease.timer = this.o.clock.setTimeout(() => {
      if (this.leases.get(key) !== lease) return;
      this.lapsed++;
      this.o.log.debug({ lease: key.replace('\n', ' ') }, 'inspect: a lease lapsed (its holder stopped renewing); full inspection released');
      this.drop(key, lease);
    }, leaseMs);
  }

  private drop(key: string, lease: Lease): void {
    this.leases.delete(key);
    this.end(lease);
  }

  private end(lease: Lease): void {
    if (lease.timer !== undefined) this.o.clock.clearTimeout(lease.timer);
    lease.timer = undefined;
    lease.hold.release();
  }
}

function refusal(reason: Exclude<InspectRefusal, 'no-actor'>): InspectAnswer {
  return { v: INSPECT_PROTOCOL_VERSION, ok: false, reason, message: INSPECT_REFUSALS[reason] };
}

function parseRequest(value: unknown): InspectRequest {
  const r = value as Partial<InspectRequest> | null;
  if (typeof r !== 'object' || r === null || r.v !== INSPECT_PROTOCOL_VERSION) throw new TypeError('not an inspect request of version 1');
  if (r.op !== 'on' && r.op !== 'off') throw new TypeError('op must be on or off');
  if (typeof r.holder !== 'string' || r.holder.length === 0 || r.holder.length > MAX_HOLDER_LENGTH) throw new TypeError(`holder must be a string of 1 to ${MAX_HOLDER_LENGTH} characters`);
  if (typeof r.leaseMs !== 'number' || !Number.isFinite(r.leaseMs)) throw new TypeError('leaseMs must be a number');
  return { v: INSPECT_PROTOCOL_VERSION, op: r.op, holder: r.holder, leaseMs: r.leaseMs };
}
