/**
 * The execution trace (issue 3): every handoff and transition of a workflow, as plain data. Machines emit each
 * entry with `TRACE_EMITTED`; the runtime appends it to the per-workflow trace store (`system.trace(workflowId)`),
 * which is the audit log — you can prove what was passed, to whom, and when. Entries are not kept in the
 * snapshot, so a long workflow's snapshot stays small.
 */
import { TRACE_EMITTED, type TraceEmitted } from './emit.js';

export type { TraceEntry, TraceKind } from '../src/trace-entry.js';
import type { TraceEntry } from '../src/trace-entry.js';

/** The emitted form of one trace entry. */
export function traceEvent(entry: TraceEntry): TraceEmitted {
  return { type: TRACE_EMITTED, entry: entry as unknown as TraceEmitted['entry'] };
}
