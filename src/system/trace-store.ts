/**
 * The execution trace in memory: every handoff and transition a workflow reports (`troupe.trace` emitted
 * events), queryable per workflow. Bounded: at most `perWorkflow` entries per workflow and `workflows`
 * workflows (the oldest workflow's trace is dropped first, and the drop is counted).
 *
 * Each entry has a stable id (`traceEntryId`, issue 8), so an entry a workflow emits again when it re-runs a
 * transition — after a restart from its last persisted snapshot, here or in another process after a crash —
 * is kept once. This store is the node's local view (synchronous, for the inspector); the durable history is
 * the trace log behind `system.trace()`.
 */
import { createHash } from 'node:crypto';

export type TraceEntry = { readonly workflowId: string } & Record<string, unknown>;

/** Entry fields that are times on the clock of the run that emitted them: never part of an entry's identity. */
const TIME_FIELDS: ReadonlySet<string> = new Set(['at', 'startedAt']);

/**
 * The stable id of a trace entry: `<kind>-<attempt>-<hash>`, the hash (SHA-256, 96 bits, base64url) over the
 * entry without its workflow id (the id is per workflow) and without times — top-level `at`/`startedAt` and any
 * `...At` field inside `detail` (an SLA's `dueAt`), since a re-run after a crash happens at other times. Every
 * other field counts: step, attempt, from, to, outcome, sizes, the error, the escrow item and level. So the
 * same transition re-run from a restored snapshot (machines keep their random state, e.g. the jitter seed, in
 * the snapshot) gets the same id, and two attempts, two items or two SLA levels get different ones. Two
 * entries equal in everything but time are one entry. Subject-safe: `[A-Za-z0-9_-]+`.
 */
export function traceEntryId(entry: TraceEntry): string {
  const identity: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entry)) {
    if (key === 'workflowId' || TIME_FIELDS.has(key) || value === undefined) continue;
    identity[key] = key === 'detail' && isRecord(value) ? withoutTimes(value) : value;
  }
  const hash = createHash('sha256').update(canonical(identity)).digest('base64url').slice(0, 16);
  return `${token(entry['kind'])}-${token(entry['attempt'])}-${hash}`;
}

export class TraceStore {
  private readonly traces = new Map<string, Map<string, TraceEntry>>();
  private droppedEntries = 0;

  constructor(
    private readonly perWorkflow = 10_000,
    private readonly workflows = 10_000,
  ) {}

  /** Stores the entry under `id`; false when this store already has that id for the workflow (a re-run). */
  append(entry: TraceEntry, id: string = traceEntryId(entry)): boolean {
    let entries = this.traces.get(entry.workflowId);
    if (!entries) {
      if (this.traces.size >= this.workflows) {
        const oldest = this.traces.keys().next().value as string;
        this.droppedEntries += this.traces.get(oldest)?.size ?? 0;
        this.traces.delete(oldest);
      }
      entries = new Map();
      this.traces.set(entry.workflowId, entries);
    }
    if (entries.has(id)) return false;
    if (entries.size >= this.perWorkflow) {
      this.droppedEntries++;
      return true;
    }
    entries.set(id, entry);
    return true;
  }

  get(workflowId: string): readonly TraceEntry[] {
    return [...(this.traces.get(workflowId)?.values() ?? [])];
  }

  get dropped(): number {
    return this.droppedEntries;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function withoutTimes(detail: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(detail).filter(([key]) => !key.endsWith('At')));
}

/** JSON with object keys sorted at every level, so key order never changes an id. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isRecord(value)) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function token(value: unknown): string {
  const text = String(value ?? '');
  return /^[A-Za-z0-9_]{1,24}$/.test(text) ? text : 'x';
}
