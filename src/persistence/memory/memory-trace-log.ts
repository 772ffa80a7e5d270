/**
 * The in-process trace log: the bounded behaviour of the original trace store (issue 3) behind the TraceLog
 * seam. At most `perWorkflow` entries per workflow and `workflows` workflows (the oldest workflow's trace goes
 * first); drops are counted. Bytes are copied in and out, as over a wire.
 */
import { checkTraceTokens, type TraceLog, type TraceRecord } from '../trace-log.js';
import { deleteOldest } from '../../oldest-entry.js';

export interface MemoryTraceLogOptions {
  /** Entries kept per workflow; later ones are dropped (counted). Default 10,000. */
  readonly perWorkflow?: number;
  /** Workflows kept; the oldest workflow's trace is dropped first (counted). Default 10,000. */
  readonly workflows?: number;
}

export interface MemoryTraceLog extends TraceLog {
  /** Entries dropped by the bounds so far. */
  readonly dropped: number;
}

export function createMemoryTraceLog(options: MemoryTraceLogOptions = {}): MemoryTraceLog {
  const perWorkflow = options.perWorkflow ?? 10_000;
  const workflows = options.workflows ?? 10_000;
  const traces = new Map<string, Map<string, Uint8Array>>();
  let dropped = 0;
  let closed = false;

  return {
    kind: 'memory',
    get dropped() {
      return dropped;
    },
    append(workflowId, entryId, data) {
      checkTraceTokens(workflowId, entryId);
      if (closed) return;
      let entries = traces.get(workflowId);
      if (!entries) {
        if (traces.size >= workflows) {
          dropped += deleteOldest(traces)?.[1].size ?? 0;
        }
        entries = new Map();
        traces.set(workflowId, entries);
      }
      if (entries.has(entryId)) return; // the first copy wins (a re-run after a restart)
      if (entries.size >= perWorkflow) {
        dropped++;
        return;
      }
      entries.set(entryId, data.slice());
    },
    async read(workflowId) {
      checkTraceTokens(workflowId);
      const entries = traces.get(workflowId);
      return entries ? [...entries].map(([id, data]): TraceRecord => ({ id, data: data.slice() })) : [];
    },
    async flush() {},
    async close() {
      closed = true;
    },
  };
}
