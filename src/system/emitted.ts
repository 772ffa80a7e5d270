/** Routes the events a machine emits for the runtime (src/protocol.ts) to tells, asks, replies and traces. */
import type { EventObject } from 'xstate';
import { toPlainError } from '../errors.js';
import { ASK_EMITTED, REPLY_EMITTED, TELL_EMITTED, TRACE_EMITTED, type TroupeEmitted } from '../protocol.js';
import type { CellHost } from './cell-host.js';

export function isTroupeEmitted(event: EventObject): event is TroupeEmitted {
  return event.type === TELL_EMITTED || event.type === REPLY_EMITTED || event.type === ASK_EMITTED || event.type === TRACE_EMITTED;
}

export interface EmitterCallbacks {
  /** Answer the ask being handled (or the oldest waiting one). */
  reply(payload: unknown): void;
  /** Deliver an `askTo` answer back to the emitting actor. */
  answerSelf(answer: EventObject): void;
  /** The message id a tell carries (deterministic for a durable actor, so a re-run is deduplicated by the log). */
  outboundId(): string | undefined;
  /** The incarnation started from a snapshot: what it emits may repeat what an earlier one emitted. */
  readonly replaying: boolean;
}

export function routeEmitted(event: TroupeEmitted, host: CellHost, from: string, callbacks: EmitterCallbacks): void {
  switch (event.type) {
    case TELL_EMITTED:
      host.tellFrom(from, event.to, event.event, callbacks.outboundId());
      return;
    case REPLY_EMITTED:
      callbacks.reply(event.payload);
      return;
    case ASK_EMITTED: {
      const { replyType } = event;
      host.askFrom(from, event.to, event.event, event.timeoutMs).then(
        (payload) => callbacks.answerSelf({ type: replyType, ok: true, payload } as EventObject),
        (error: unknown) => callbacks.answerSelf({ type: replyType, ok: false, error: toPlainError(error) } as EventObject),
      );
      return;
    }
    case TRACE_EMITTED:
      host.appendTrace(event.entry, callbacks.replaying);
      return;
  }
}
