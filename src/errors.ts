/**
 * Typed errors of Troupe (L0: imports nothing).
 *
 * Every failure has its own subclass with a stable `code`, a `cause` (ErrorOptions) and plain-data fields.
 * `Error` objects do not survive serialization (msgpackr and JSON both turn them into `{}`), so each error
 * has a plain-data form (`toPlain`) for the wire and for snapshots, and `errorFromPlain` turns it back
 * into the right subclass on the other side.
 */

export const ErrorCode = {
  Retryable: 'TROUPE_RETRYABLE',
  NonRetryable: 'TROUPE_NON_RETRYABLE',
  Timeout: 'TROUPE_TIMEOUT',
  EscalationRequired: 'TROUPE_ESCALATION_REQUIRED',
  Aborted: 'TROUPE_ABORTED',
  DeadLetter: 'TROUPE_DEAD_LETTER',
  InvalidMessage: 'TROUPE_INVALID_MESSAGE',
  MailboxFull: 'TROUPE_MAILBOX_FULL',
  InvalidAddress: 'TROUPE_INVALID_ADDRESS',
  InvalidConfig: 'TROUPE_INVALID_CONFIG',
  InvalidChildSpec: 'TROUPE_INVALID_CHILD_SPEC',
  UnknownLogic: 'TROUPE_UNKNOWN_LOGIC',
  DuplicateActor: 'TROUPE_DUPLICATE_ACTOR',
  ActorFailed: 'TROUPE_ACTOR_FAILED',
  SupervisorFailed: 'TROUPE_SUPERVISOR_FAILED',
  SystemStopped: 'TROUPE_SYSTEM_STOPPED',
  VersionMismatch: 'TROUPE_VERSION_MISMATCH',
  Codec: 'TROUPE_CODEC',
  ShardMoved: 'TROUPE_SHARD_MOVED',
  UnknownEscrowItem: 'TROUPE_UNKNOWN_ESCROW_ITEM',
  ActorTerminated: 'TROUPE_ACTOR_TERMINATED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The plain-data form of any Troupe error: what crosses the wire and what snapshots store. */
export interface PlainError {
  readonly _tag: 'TroupeError';
  readonly name: string;
  readonly code: string;
  readonly message: string;
  readonly data?: Record<string, unknown>;
  readonly cause?: PlainError;
}

/** Base class: a stable code, structured data, and a plain-data form. */
export class TroupeError extends Error {
  readonly code: ErrorCode;
  /** Plain-data fields of this failure; kept small and serializable. */
  readonly data: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, data: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.data = data;
    this.name = new.target.name;
  }

  toPlain(): PlainError {
    return toPlainError(this);
  }

  static is(value: unknown): value is TroupeError {
    return value instanceof TroupeError;
  }
}

export interface RetryableOptions extends ErrorOptions {
  /** A hint from the failing call (e.g. an HTTP Retry-After), honoured by the step's retry policy. */
  retryAfterMs?: number;
  /** The error type name matched against a policy's `nonRetryableErrorTypes`. */
  type?: string;
}

/** A transient failure: the same call may succeed later (network error, 429, 503). */
export class RetryableError extends TroupeError {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: RetryableOptions = {}) {
    super(ErrorCode.Retryable, message, { retryAfterMs: options.retryAfterMs, type: options.type }, options);
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** A permanent failure: bad input, a refused request. Never retried. */
export class NonRetryableError extends TroupeError {
  constructor(message: string, options: ErrorOptions & { type?: string } = {}) {
    super(ErrorCode.NonRetryable, message, { type: options.type }, options);
  }
}

export class TimeoutError extends TroupeError {
  readonly timeoutMs: number;
  constructor(message: string, timeoutMs: number, options?: ErrorOptions) {
    super(ErrorCode.Timeout, message, { timeoutMs }, options);
    this.timeoutMs = timeoutMs;
  }
}

/** The orchestrator will not guess: a person has to decide. */
export class EscalationRequired extends TroupeError {
  constructor(message: string, data: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(ErrorCode.EscalationRequired, message, data, options);
  }
}

/** A critical step failed, or a caller cancelled: the work stopped cleanly. */
export class Aborted extends TroupeError {
  constructor(message: string, data: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(ErrorCode.Aborted, message, data, options);
  }
}

/** A message could not be delivered (unknown or stopped address, unhandled event type). */
export class DeadLetterError extends TroupeError {
  readonly to: string;
  readonly reason: string;
  constructor(to: string, reason: string, options?: ErrorOptions) {
    super(ErrorCode.DeadLetter, `message to ${to} was dead-lettered: ${reason}`, { to, reason }, options);
    this.to = to;
    this.reason = reason;
  }
}

/** A message that is not plain data (function, class instance, symbol, cycle, ...). */
export class InvalidMessageError extends TroupeError {
  readonly path: string;
  constructor(path: string, reason: string, options?: ErrorOptions) {
    super(ErrorCode.InvalidMessage, `message is not plain data at ${path}: ${reason}`, { path, reason }, options);
    this.path = path;
  }
}

export class MailboxFullError extends TroupeError {
  readonly to: string;
  readonly capacity: number;
  constructor(to: string, capacity: number, options?: ErrorOptions) {
    super(ErrorCode.MailboxFull, `mailbox of ${to} is full (capacity ${capacity})`, { to, capacity }, options);
    this.to = to;
    this.capacity = capacity;
  }
}

export class InvalidAddressError extends TroupeError {
  constructor(address: string, reason: string, options?: ErrorOptions) {
    super(ErrorCode.InvalidAddress, `invalid address ${JSON.stringify(address)}: ${reason}`, { address, reason }, options);
  }
}

/** A configuration or policy value out of range; `field` names it. */
export class InvalidConfigError extends TroupeError {
  readonly field: string;
  constructor(field: string, reason: string, options?: ErrorOptions) {
    super(ErrorCode.InvalidConfig, `invalid ${field}: ${reason}`, { field, reason }, options);
    this.field = field;
  }
}

export class InvalidChildSpecError extends TroupeError {
  readonly field: string;
  constructor(child: string, field: string, reason: string, options?: ErrorOptions) {
    super(ErrorCode.InvalidChildSpec, `invalid child spec ${child}: ${field} ${reason}`, { child, field, reason }, options);
    this.field = field;
  }
}

export class UnknownLogicError extends TroupeError {
  constructor(name: string, options?: ErrorOptions) {
    super(ErrorCode.UnknownLogic, `no logic registered as ${JSON.stringify(name)}`, { name }, options);
  }
}

export class DuplicateActorError extends TroupeError {
  constructor(address: string, options?: ErrorOptions) {
    super(ErrorCode.DuplicateActor, `an actor already lives at ${address}`, { address }, options);
  }
}

/** An actor's unhandled failure, as its supervisor sees it. `kind` says which path it failed by. */
export class ActorFailedError extends TroupeError {
  readonly address: string;
  readonly kind: FailureKind;
  constructor(address: string, kind: FailureKind, options?: ErrorOptions) {
    const reason = options?.cause instanceof Error ? options.cause.message : String(options?.cause ?? 'unknown');
    super(ErrorCode.ActorFailed, `actor ${address} failed (${kind}): ${reason}`, { address, kind }, options);
    this.address = address;
    this.kind = kind;
  }
}

/** How an actor failed: its XState status became `error`, a listener threw, or its start threw. */
export type FailureKind = 'actor-error' | 'listener-error' | 'start-error' | 'escalated' | 'persistence-error';

/** A supervisor gave up (restart intensity exceeded, or a child escalated) and escalates to its parent. */
export class SupervisorFailedError extends TroupeError {
  constructor(supervisor: string, reason: string, data: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(ErrorCode.SupervisorFailed, `supervisor ${supervisor} failed: ${reason}`, { supervisor, reason, ...data }, options);
  }
}

export class SystemStoppedError extends TroupeError {
  constructor(system: string, options?: ErrorOptions) {
    super(ErrorCode.SystemStopped, `system ${system} is stopped`, { system }, options);
  }
}

export class VersionMismatchError extends TroupeError {
  constructor(message: string, data: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(ErrorCode.VersionMismatch, message, data, options);
  }
}

export class CodecError extends TroupeError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.Codec, message, {}, options);
  }
}

/**
 * A durable actor's shard is held by another node (issue 9): this node's lease on it lapsed or was taken over (a
 * pause, a partition), or a newer owner already wrote the actor's record. Raised where a stale node would otherwise
 * act for the actor; the incarnation here stops quietly, and the shard's owner runs the actor.
 */
export class ShardMovedError extends TroupeError {
  readonly address: string;
  readonly shard: number;
  constructor(address: string, shard: number, detail: string, options?: ErrorOptions) {
    super(ErrorCode.ShardMoved, `durable actor ${address}: shard ${shard} is held by another node (${detail})`, { address, shard }, options);
    this.address = address;
    this.shard = shard;
  }
}

/** A decision for an item the escrow does not hold (never submitted, already decided, or a mistyped id). */
export class UnknownEscrowItemError extends TroupeError {
  /** The escrow's address. */
  readonly escrow: string;
  readonly itemId: string;
  constructor(escrow: string, itemId: string, options?: ErrorOptions) {
    super(ErrorCode.UnknownEscrowItem, `no item ${JSON.stringify(itemId)} is waiting in the escrow ${escrow}`, { escrow, itemId }, options);
    this.escrow = escrow;
    this.itemId = itemId;
  }
}

/** An actor reached a final status (`done`, `stopped`) before what a caller waited for (`ref.waitFor`) happened. */
export class ActorTerminatedError extends TroupeError {
  readonly address: string;
  readonly status: string;
  constructor(address: string, status: string, options?: ErrorOptions) {
    super(ErrorCode.ActorTerminated, `actor ${address} ended (${status}) before the awaited condition held`, { address, status }, options);
    this.address = address;
    this.status = status;
  }
}

/** Plain-data form of any thrown value (Troupe error, foreign Error, or a thrown non-error). */
export function toPlainError(error: unknown, depth = 0): PlainError {
  if (error instanceof TroupeError) {
    return withCause({ _tag: 'TroupeError', name: error.name, code: error.code, message: error.message, data: plainFields(error.data) }, error.cause, depth);
  }
  if (error instanceof Error) {
    const code = typeof (error as { code?: unknown }).code === 'string' ? (error as unknown as { code: string }).code : 'ERROR';
    return withCause({ _tag: 'TroupeError', name: error.name, code, message: error.message }, error.cause, depth);
  }
  if (isPlainError(error)) return error;
  return { _tag: 'TroupeError', name: 'NonError', code: 'NON_ERROR', message: safeString(error) };
}

function withCause(plain: PlainError, cause: unknown, depth: number): PlainError {
  // Causes are bounded so a self-referencing chain cannot recurse forever.
  if (cause === undefined || depth >= 4) return plain;
  return { ...plain, cause: toPlainError(cause, depth + 1) };
}

function plainFields(data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    if (value === undefined) continue;
    out[key] = typeof value === 'object' && value !== null ? JSON.parse(JSON.stringify(value)) : value;
  }
  return out;
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

export function isPlainError(value: unknown): value is PlainError {
  return typeof value === 'object' && value !== null && (value as { _tag?: unknown })._tag === 'TroupeError';
}

const byName: Record<string, (p: PlainError, cause: Error | undefined) => TroupeError> = {
  RetryableError: (p, cause) =>
    new RetryableError(p.message, { cause, retryAfterMs: p.data?.['retryAfterMs'] as number | undefined, type: p.data?.['type'] as string | undefined }),
  NonRetryableError: (p, cause) => new NonRetryableError(p.message, { cause, type: p.data?.['type'] as string | undefined }),
  TimeoutError: (p, cause) => new TimeoutError(p.message, Number(p.data?.['timeoutMs'] ?? 0), { cause }),
  EscalationRequired: (p, cause) => new EscalationRequired(p.message, p.data ?? {}, { cause }),
  Aborted: (p, cause) => new Aborted(p.message, p.data ?? {}, { cause }),
};

const byPrototype: Record<string, { prototype: TroupeError }> = {
  DeadLetterError,
  InvalidMessageError,
  MailboxFullError,
  InvalidAddressError,
  InvalidConfigError,
  InvalidChildSpecError,
  UnknownLogicError,
  DuplicateActorError,
  ActorFailedError,
  SupervisorFailedError,
  SystemStoppedError,
  VersionMismatchError,
  CodecError,
  ShardMovedError,
  UnknownEscrowItemError,
  ActorTerminatedError,
};
const RESERVED = new Set(['name', 'message', 'code', 'data', 'cause', 'stack']);

/**
 * Rebuilds an error from its plain form; other Troupe kinds come back as a `TroupeError` with the same name, code
 * and data, foreign errors (no `data`) as an `Error` with the same name and code.
 */
export function errorFromPlain(plain: PlainError): Error {
  const cause = plain.cause ? errorFromPlain(plain.cause) : undefined;
  const make = byName[plain.name];
  if (make) return make(plain, cause);
  if (plain.data !== undefined) {
    // A Troupe kind: a TroupeError keeps `data`, so a second hop (toPlainError again) loses nothing. A kind whose
    // constructor computes its message is rebuilt on its own prototype (instanceof holds across nodes) with the
    // message it had and its fields from `data`.
    const error = new TroupeError(plain.code as ErrorCode, plain.message, plain.data, { cause });
    error.name = plain.name;
    const kind = byPrototype[plain.name];
    if (kind) {
      Object.setPrototypeOf(error, kind.prototype);
      for (const [key, value] of Object.entries(plain.data)) if (!RESERVED.has(key)) (error as unknown as Record<string, unknown>)[key] = value;
    }
    return error;
  }
  const error = new Error(plain.message, { cause });
  error.name = plain.name;
  (error as Error & { code: string }).code = plain.code;
  return error;
}

/** The name used to match `nonRetryableErrorTypes`: an explicit `type`, else the error's name. */
export function errorTypeOf(error: unknown): string {
  if (error instanceof TroupeError && typeof error.data['type'] === 'string') return error.data['type'];
  if (isPlainError(error)) return typeof error.data?.['type'] === 'string' ? (error.data['type'] as string) : error.name;
  if (error instanceof Error) return error.name;
  return 'NonError';
}

/** Retryable unless it says otherwise: non-retryable, invalid messages and programmer errors are never retried. */
export function isRetryable(error: unknown): boolean {
  const name = error instanceof Error ? error.name : isPlainError(error) ? error.name : '';
  if (name === 'NonRetryableError' || name === 'InvalidMessageError' || name === 'Aborted') return false;
  // Programmer errors (p-retry's rule): a TypeError or ReferenceError will fail the same way again.
  if (name === 'TypeError' || name === 'ReferenceError' || name === 'SyntaxError' || name === 'RangeError') return false;
  return true;
}
