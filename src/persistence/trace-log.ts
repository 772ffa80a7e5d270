/**
 * The execution-trace seam (L1, issue 8): an append-only audit log of encoded trace entries per workflow, each
 * entry under a stable id. `memory/` keeps a bounded log in the process; `jetstream/` is the stream
 * `TROUPE_<system>_TRACE`, so a workflow's history outlives the process that ran it. Bytes only: the layer
 * above (src/system/trace-store.ts) derives the ids and encodes the entries.
 *
 * Contract:
 * - `append` never blocks and never throws for I/O: the log queues, batches and retries by itself (failures
 *   are reported by the implementation, never thrown into the caller). It throws InvalidAddressError at once
 *   for a workflow id or entry id outside `[A-Za-z0-9_-]+` (a programming error).
 * - An entry id is stored once per workflow: appending it again (a re-run after a crash or a restart) keeps
 *   the first copy and its position, whatever the time between the two appends.
 * - `read` returns a workflow's entries in append order, each id once; it includes everything this log
 *   accepted before `read` was called (read-your-writes within a process), bounded by `timeoutMs`.
 * - `flush` resolves once every entry appended so far is stored or given up (and reported).
 */
import { InvalidAddressError } from '../errors.js';

export interface TraceRecord {
  readonly id: string;
  readonly data: Uint8Array;
}

export interface TraceReadOptions {
  /** Bound of the whole read, ms. Default: the implementation's (5,000 for JetStream). */
  readonly timeoutMs?: number;
}

export interface TraceLog {
  readonly kind: string;
  append(workflowId: string, entryId: string, data: Uint8Array): void;
  read(workflowId: string, options?: TraceReadOptions): Promise<TraceRecord[]>;
  flush(): Promise<void>;
  /** Flushes (bounded) and stops; appends after close are dropped. Does not close a shared connection. */
  close(): Promise<void>;
}

/** Workflow ids and entry ids: one NATS subject token each. */
export const TRACE_TOKEN = /^[A-Za-z0-9_-]+$/;

/** `troupe.<system>.trace.<workflowId>.<entryId>`, or the workflow's wildcard `troupe.<system>.trace.<workflowId>.>`. */
export function traceSubject(system: string, workflowId: string, entryId?: string): string {
  return `troupe.${system}.trace.${workflowId}.${entryId ?? '>'}`;
}

/** Throws InvalidAddressError naming the token that is not subject-safe. */
export function checkTraceTokens(workflowId: string, entryId?: string): void {
  if (typeof workflowId !== 'string' || !TRACE_TOKEN.test(workflowId)) throw new InvalidAddressError(String(workflowId), 'a workflow id must match [A-Za-z0-9_-]+');
  if (entryId !== undefined && (typeof entryId !== 'string' || !TRACE_TOKEN.test(entryId))) {
    throw new InvalidAddressError(String(entryId), 'a trace entry id must match [A-Za-z0-9_-]+');
  }
}
