/**
 * The execution trace (issue 3): every handoff and transition of a workflow, as plain data. Machines emit each
 * entry with `TRACE_EMITTED`; the runtime appends it to the per-workflow trace store (`system.trace(workflowId)`),
 * which is the audit log — you can prove what was passed, to whom, and when. Entries are not kept in the
 * snapshot, so a long workflow's snapshot stays small.
 */
import { TRACE_EMITTED, type TraceEmitted } from './emit.js';

export type { TokenUsage, TraceEntry, TraceKind } from '../src/trace-entry.js';
import type { TokenUsage, TraceEntry } from '../src/trace-entry.js';

/** The emitted form of one trace entry. */
export function traceEvent(entry: TraceEntry): TraceEmitted {
  return { type: TRACE_EMITTED, entry: entry as unknown as TraceEmitted['entry'] };
}

/** `a` plus `b` (nothing added when `b` is missing: a response without usage). */
export function addUsage(a: TokenUsage, b: TokenUsage | undefined): TokenUsage {
  return b === undefined ? a : { inputTokens: a.inputTokens + b.inputTokens, outputTokens: a.outputTokens + b.outputTokens };
}

/**
 * What a workflow's model calls cost, from its trace: the `usage` of every attempt (a refused or retried one too),
 * summed per step and in all.
 *
 * @example
 * const { total, steps } = traceUsage(await system.trace('ticket-42'));
 */
export function traceUsage(entries: readonly TraceEntry[]): { readonly total: TokenUsage; readonly steps: Readonly<Record<string, TokenUsage>> } {
  const steps: Record<string, TokenUsage> = {};
  let total: TokenUsage = { inputTokens: 0, outputTokens: 0 };
  for (const entry of entries) {
    if (entry.usage === undefined) continue;
    steps[entry.step] = addUsage(steps[entry.step] ?? { inputTokens: 0, outputTokens: 0 }, entry.usage);
    total = addUsage(total, entry.usage);
  }
  return { total, steps };
}
