/**
 * The inspection wire format (issue 5), version `WIRE_VERSION`. Types and constants only, no imports: the
 * browser UI bundles this file as is, so nothing of the runtime reaches it.
 *
 * Records come in two families:
 * - the three `@statelyai/inspect` records (`@xstate.actor`, `@xstate.event`, `@xstate.snapshot`), field for
 *   field as that package sends them (`sessionId`, `parentId`, `rootId`, `createdAt` as a string, `_version`),
 *   so any XState v5 app's inspector stream can be shown next to Troupe's own actors. For a Troupe actor the
 *   `sessionId` is its address (`support/ticket-42`); an XState child inside it is `<address>#<child id>`.
 * - Troupe's own records: `troupe.microstep`, `troupe.action` (full inspection only), `troupe.runtime`
 *   (spawn, stop, failures, supervisor decisions, dead letters...) and `troupe.trace` (the execution trace:
 *   steps, attempts, backoff waits, verifier results, compensations, escalations, handoff tokens).
 *
 * Records travel in batches (at most 1,000 records or 50 ms); each batch says how many records were produced
 * for this consumer so far and how many of them were dropped, so `delivered + dropped = produced` can be
 * checked by anyone. After dropping, a consumer gets a `resync` with the current state once it drains.
 */

export const WIRE_VERSION = 1;
/** The `@statelyai/inspect` protocol version our `@xstate.*` records follow. */
export const STATELY_VERSION = '0.4.0';

interface StatelyBase {
  /** Session id of the root actor (for Troupe actors: the actor's address). */
  readonly rootId: string | undefined;
  readonly sessionId: string;
  /** Epoch milliseconds, as a string (as `@statelyai/inspect` sends it). */
  readonly createdAt: string;
  /** Unique per record (a sequence number within its node). */
  readonly id: string;
  readonly _version: string;
}

export interface EventObjectLike {
  readonly type: string;
  readonly [key: string]: unknown;
}

/** Plain-data form of an XState snapshot (`status`, `value`, `context`, `output`, `error`, ...). */
export interface WireSnapshot {
  readonly status?: string;
  readonly value?: unknown;
  readonly context?: unknown;
  readonly output?: unknown;
  readonly error?: unknown;
  readonly [key: string]: unknown;
}

export interface ActorRecord extends StatelyBase {
  readonly type: '@xstate.actor';
  readonly name: string;
  readonly parentId: string | undefined;
  /** JSON-stringified machine definition, when sent; Troupe sends none and the UI asks for it lazily. */
  readonly definition: string | undefined;
  readonly snapshot: WireSnapshot;
}

export interface EventRecord extends StatelyBase {
  readonly type: '@xstate.event';
  readonly event: EventObjectLike;
  readonly sourceId: string | undefined;
}

export interface SnapshotRecord extends StatelyBase {
  readonly type: '@xstate.snapshot';
  /** The event that led to this snapshot; `{ type: '' }` when captured cheaply (from `subscribe`). */
  readonly event: EventObjectLike;
  readonly snapshot: WireSnapshot;
}

export interface MicrostepRecord extends StatelyBase {
  readonly type: 'troupe.microstep';
  readonly event: EventObjectLike;
  readonly value: unknown;
  readonly transitions: ReadonlyArray<{ readonly source: string; readonly targets: readonly string[]; readonly eventType: string }>;
}

export interface ActionRecord extends StatelyBase {
  readonly type: 'troupe.action';
  readonly action: { readonly type: string; readonly params?: unknown };
}

/** A runtime event (`rt.*`), as plain data. */
export interface RuntimeRecord {
  readonly type: 'troupe.runtime';
  readonly id: string;
  readonly node: string;
  readonly event: { readonly type: string; readonly ts: number; readonly [key: string]: unknown };
}

/** One execution-trace entry of a workflow. */
export interface TraceRecord {
  readonly type: 'troupe.trace';
  readonly id: string;
  readonly workflowId: string;
  /** Position of the entry in the workflow's trace (0-based). */
  readonly index: number;
  readonly entry: TraceEntryLike;
}

export interface TraceEntryLike {
  readonly workflowId: string;
  readonly kind?: string;
  readonly step?: string;
  readonly attempt?: number;
  readonly from?: string;
  readonly to?: string;
  readonly outcome?: string;
  readonly at?: number;
  readonly startedAt?: number;
  readonly bytes?: number;
  readonly tokens?: number;
  readonly originalTokens?: number;
  readonly summarized?: boolean;
  readonly delayMs?: number;
  readonly error?: { readonly name?: string; readonly message?: string; readonly [key: string]: unknown };
  readonly detail?: Record<string, unknown>;
  readonly [key: string]: unknown;
}

export type StatelyRecord = ActorRecord | EventRecord | SnapshotRecord;
export type WireRecord = StatelyRecord | MicrostepRecord | ActionRecord | RuntimeRecord | TraceRecord;
export type WireRecordType = WireRecord['type'];

/** A node of the supervision tree, plain data (the shape of `system.tree()`). */
export type WireTreeNode =
  | {
      readonly kind: 'supervisor';
      readonly address: string;
      readonly strategy: string;
      readonly state: string;
      readonly restarts: number;
      readonly children: readonly WireTreeNode[];
    }
  | {
      readonly kind: 'actor';
      readonly address: string;
      readonly logic: string;
      readonly version: number;
      readonly state: string;
      readonly status: string | undefined;
      readonly incarnation: number;
      readonly restartType: string;
      readonly queued: number;
      readonly dropped: number;
    };

/** Counters for one consumer: `delivered + dropped = produced` at all times. */
export interface ConsumerCounts {
  readonly produced: number;
  readonly delivered: number;
  readonly dropped: number;
}

/** A batch of records from one node. */
export interface BatchMessage {
  readonly t: 'batch';
  readonly v: typeof WIRE_VERSION;
  readonly node: string;
  readonly seq: number;
  /** The node's clock when the batch was sealed (SLA countdowns use it to correct for clock offset). */
  readonly now: number;
  readonly records: readonly WireRecord[];
  /** Totals for this consumer, including this batch. */
  readonly counts: ConsumerCounts;
}

/** An actor's latest state, as sent in a resync. */
export interface ActorState {
  readonly address: string;
  readonly logic: string;
  readonly parent: string | undefined;
  readonly snapshot: WireSnapshot;
  /** True when the actor has finished or stopped (kept so its last state stays visible). */
  readonly finished: boolean;
}

/** The current state of one node: sent first, and again after records were dropped and the consumer drained. */
export interface ResyncMessage {
  readonly t: 'resync';
  readonly v: typeof WIRE_VERSION;
  readonly node: string;
  readonly system: string;
  readonly reason: 'hello' | 'drained' | 'requested';
  readonly now: number;
  readonly tree: WireTreeNode;
  readonly actors: readonly ActorState[];
  /** The last trace entries of each known workflow (bounded): `from` is the index of the first one. */
  readonly traces: Readonly<Record<string, { readonly from: number; readonly entries: readonly TraceEntryLike[] }>>;
  /** Addresses with full XState inspection switched on. */
  readonly inspected: readonly string[];
  /** Actors of outside XState apps (their latest `@xstate.actor` and `@xstate.snapshot` records). */
  readonly external?: readonly StatelyRecord[];
  readonly counts: ConsumerCounts;
}

/** A machine definition (the JSON of XState's `machine.definition`), answered on request and cached by `key`. */
export interface DefinitionMessage {
  readonly t: 'definition';
  readonly v: typeof WIRE_VERSION;
  readonly address: string;
  /** `<logic>@<version>`: the cache key. */
  readonly key: string;
  readonly definition: unknown;
}

/** The outcome of a client request. */
export interface ReplyMessage {
  readonly t: 'reply';
  readonly v: typeof WIRE_VERSION;
  readonly requestId: string;
  readonly ok: boolean;
  readonly error?: string;
}

/**
 * What one node recorded before this client connected (issue 14): the records of the inspector's bounded
 * history ring, oldest first, sent once, before the first resync. `evicted` records already left the ring.
 */
export interface HistoryMessage {
  readonly t: 'history';
  readonly v: typeof WIRE_VERSION;
  readonly node: string;
  readonly evicted: number;
  readonly records: readonly WireRecord[];
}

/** Durable actors that finished, from the store, and their workflows' traces: answered to a `finished` request. */
export interface FinishedMessage {
  readonly t: 'finished';
  readonly v: typeof WIRE_VERSION;
  readonly node: string;
  readonly actors: readonly ActorState[];
  readonly traces: Readonly<Record<string, readonly TraceEntryLike[]>>;
}

export type ServerMessage = BatchMessage | ResyncMessage | DefinitionMessage | ReplyMessage | HistoryMessage | FinishedMessage;

export type Decision = 'approve' | 'reject' | 'edit' | 'retry';

/** The only command a client may give: a person's decision on an escrow item. */
export interface DecideRequest {
  readonly t: 'decide';
  readonly requestId: string;
  /** Address of the escrow actor holding the item. */
  readonly escrow: string;
  readonly itemId: string;
  readonly decision: Decision;
  /** The edited output (decision `edit`). */
  readonly output?: unknown;
  /** Why (decision `reject`). */
  readonly reason?: string;
  readonly by?: string;
}

/** Inspection controls (they change what is observed, never the system). */
export type ControlRequest =
  | { readonly t: 'definition'; readonly requestId: string; readonly address: string }
  | { readonly t: 'inspect'; readonly requestId: string; readonly address: string; readonly on: boolean }
  | { readonly t: 'resync'; readonly requestId: string }
  /** Lists the durable actors that finished (answered with a `finished` message). */
  | { readonly t: 'finished'; readonly requestId: string }
  /** Forgets the outside apps that disconnected (their actors are shown stopped until then). */
  | { readonly t: 'clear-stopped-apps'; readonly requestId: string };

export type ClientMessage = DecideRequest | ControlRequest;
