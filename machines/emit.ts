/**
 * How a pure machine talks to the Troupe runtime. Troupe actors are separate XState roots, not XState
 * children, so a machine cannot `sendTo` them; it emits plain events that the runtime picks up with
 * `actor.on()` and routes: `tellTo` sends to an address, `reply` answers the message being handled.
 *
 * @example
 * setup({}).createMachine({
 *   on: {
 *     ping: { actions: reply(() => ({ type: 'pong' })) },
 *     forward: { actions: tellTo('support/audit', ({ event }) => ({ type: 'seen', what: event.type })) },
 *   },
 * });
 */
import { ASK_EMITTED, REPLY_EMITTED, TELL_EMITTED, type AskEmitted, type ReplyEmitted, type TellEmitted } from '../src/protocol.js';
import { emit, type ActionFunction, type AnyActorRef, type AnyEventObject, type EventObject, type MachineContext } from 'xstate';

export {
  TELL_EMITTED,
  REPLY_EMITTED,
  ASK_EMITTED,
  TRACE_EMITTED,
  type TellEmitted,
  type ReplyEmitted,
  type AskEmitted,
  type AskAnswer,
  type TraceEmitted,
  type TroupeEmitted,
} from '../src/protocol.js';

/** What an expression sees: the context, the event, and `self` (under Troupe, `self.id` is the actor's address). */
/** What an expression in `reply`, `tellTo` or `askTo` receives. */
export type ExprArgs<TContext extends MachineContext, TEvent extends EventObject> = { context: TContext; event: TEvent; self: AnyActorRef };
/** A value, or an expression of the machine's context and event that computes it. */
export type ValueOrExpr<T, TContext extends MachineContext, TEvent extends EventObject> = T | ((args: ExprArgs<TContext, TEvent>) => T);

function resolve<T, TContext extends MachineContext, TEvent extends EventObject>(
  value: ValueOrExpr<T, TContext, TEvent>,
  args: ExprArgs<TContext, TEvent>,
): T {
  return typeof value === 'function' ? (value as (a: ExprArgs<TContext, TEvent>) => T)(args) : value;
}

/** The action type both helpers return; generic so it fits any machine's context, events and emitted types. */
export type TroupeAction<
  TContext extends MachineContext,
  TExpressionEvent extends EventObject,
  TEvent extends EventObject,
  TEmitted extends AnyEventObject,
> = ActionFunction<TContext, TExpressionEvent, TEvent, undefined, never, never, never, never, TEmitted>;

/** Tell `event` to the actor at `to`. Both may be expressions of `{ context, event }`. */
export function tellTo<
  TContext extends MachineContext,
  TExpressionEvent extends EventObject,
  TEvent extends EventObject = TExpressionEvent,
  TEmitted extends AnyEventObject = AnyEventObject,
>(
  to: ValueOrExpr<string, TContext, TExpressionEvent>,
  event: ValueOrExpr<EventObject, TContext, TExpressionEvent>,
): TroupeAction<TContext, TExpressionEvent, TEvent, TEmitted> {
  return emit(({ context, event: current, self }: ExprArgs<TContext, TExpressionEvent>) => {
    const args = { context, event: current, self };
    return { type: TELL_EMITTED, to: resolve(to, args), event: resolve(event, args) } satisfies TellEmitted as unknown as TEmitted;
  });
}

/** Ask the actor at `to`; the answer comes back as an event of type `replyType` (see `AskAnswer`). */
export function askTo<
  TContext extends MachineContext,
  TExpressionEvent extends EventObject,
  TEvent extends EventObject = TExpressionEvent,
  TEmitted extends AnyEventObject = AnyEventObject,
>(
  to: ValueOrExpr<string, TContext, TExpressionEvent>,
  event: ValueOrExpr<EventObject, TContext, TExpressionEvent>,
  options: { replyType: string; timeoutMs?: number },
): TroupeAction<TContext, TExpressionEvent, TEvent, TEmitted> {
  return emit(({ context, event: current, self }: ExprArgs<TContext, TExpressionEvent>) => {
    const args = { context, event: current, self };
    const emitted: AskEmitted = { type: ASK_EMITTED, to: resolve(to, args), event: resolve(event, args), ...options };
    return emitted as unknown as TEmitted;
  });
}

/**
 * Answer the `ask` being handled with `payload` (plain data). Only valid while the asked message is being
 * handled; for a deferred answer, carry an address in the event and use `tellTo`.
 */
export function reply<
  TContext extends MachineContext,
  TExpressionEvent extends EventObject,
  TEvent extends EventObject = TExpressionEvent,
  TEmitted extends AnyEventObject = AnyEventObject,
>(payload: (args: ExprArgs<TContext, TExpressionEvent>) => unknown): TroupeAction<TContext, TExpressionEvent, TEvent, TEmitted>;
export function reply<
  TContext extends MachineContext,
  TExpressionEvent extends EventObject,
  TEvent extends EventObject = TExpressionEvent,
  TEmitted extends AnyEventObject = AnyEventObject,
>(payload: string | number | boolean | null | object): TroupeAction<TContext, TExpressionEvent, TEvent, TEmitted>;
export function reply(payload: unknown): TroupeAction<MachineContext, EventObject, EventObject, AnyEventObject> {
  return emit(({ context, event, self }: ExprArgs<MachineContext, EventObject>) => ({
    type: REPLY_EMITTED,
    payload: resolve(payload, { context, event, self }),
  }) satisfies ReplyEmitted);
}
