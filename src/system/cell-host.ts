/** What an actor cell needs from its system; the system implements it (and tests can too). */
import type { EventObject } from 'xstate';
import type { RuntimeConfig } from '../config.js';
import type { Logger } from '../log/index.js';
import type { Clock } from './clock.js';
import type { EventStream } from './events.js';
import type { TraceEntry } from './trace-store.js';
import type { Message } from './message.js';

export interface CellHost {
  readonly config: RuntimeConfig;
  readonly clock: Clock;
  readonly events: EventStream;
  readonly log: Logger;
  /** Whether OpenTelemetry is on for this system (spans come only once an SDK is registered too). */
  readonly tracing: boolean;
  deadLetter(to: string, message: Message, reason: string): void;
  /**
   * Tells `event` to `to` on behalf of `from` (from a machine's `tellTo`); never throws. `msgId`, when given, is the
   * message id a durable target's log deduplicates on.
   */
  tellFrom(from: string, to: string, event: EventObject, msgId?: string): void;
  /** Asks `to` on behalf of a machine's `askTo`; the promise settles with the answer. */
  askFrom(from: string, to: string, event: EventObject, timeoutMs: number | undefined): Promise<unknown>;
  /** Checks (and in 'roundtrip' mode copies) a payload that leaves an actor; throws InvalidMessageError. */
  checkPayload(payload: unknown): unknown;
  /** Records a trace entry; `replaying` when its emitter started from a snapshot (the entry may be a repeat). */
  appendTrace(entry: TraceEntry, replaying?: boolean): void;
  /** The cell stopped for good: free its address. */
  cellStopped(address: string): void;
}
