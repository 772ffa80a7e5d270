/**
 * The emitted-event protocol between pure machines and the runtime (L0: types and names only).
 * Machines emit these with the helpers in `troupe/machines` (`tellTo`, `reply`, `askTo`, trace records);
 * the runtime picks them up with `actor.on('*')` and routes them.
 */
import type { PlainError } from './errors.js';

export const TELL_EMITTED = 'troupe.tell';
export const REPLY_EMITTED = 'troupe.reply';
export const ASK_EMITTED = 'troupe.ask';
export const TRACE_EMITTED = 'troupe.trace';

export interface EventLike {
  readonly type: string;
}

/** Emitted by `tellTo`: the runtime tells `event` to `to` (an address, `system/path`), from this actor. */
export interface TellEmitted {
  readonly type: typeof TELL_EMITTED;
  readonly to: string;
  readonly event: EventLike;
}

/** Emitted by `reply`: the runtime answers the `ask` whose message is being handled. */
export interface ReplyEmitted {
  readonly type: typeof REPLY_EMITTED;
  readonly payload: unknown;
}

/**
 * Emitted by `askTo`: the runtime asks `to` and sends the answer back to this actor as
 * `{ type: replyType, ok: true, payload }` or `{ type: replyType, ok: false, error: PlainError }`.
 */
export interface AskEmitted {
  readonly type: typeof ASK_EMITTED;
  readonly to: string;
  readonly event: EventLike;
  readonly replyType: string;
  readonly timeoutMs?: number;
}

/** The event an `askTo` answer arrives as. */
export type AskAnswer<TType extends string = string> =
  | { readonly type: TType; readonly ok: true; readonly payload: unknown }
  | { readonly type: TType; readonly ok: false; readonly error: PlainError };

/** Emitted by workflow machines: one execution-trace entry; the runtime appends it to the trace store. */
export interface TraceEmitted {
  readonly type: typeof TRACE_EMITTED;
  readonly entry: { readonly workflowId: string } & Record<string, unknown>;
}

export type TroupeEmitted = TellEmitted | ReplyEmitted | AskEmitted | TraceEmitted;
