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
import { deleteOldest } from '../oldest-entry.js';

export type TraceEntry = { readonly workflowId: string } & Record<string, unknown>;

/** Entry fields that are times on the clock of the run that emitted them: never part of an entry's identity. */
const TIME_FIELDS: ReadonlySet<string> = new Set(['at', 'startedAt']);

/**
 * The stable id of a trace entry: `<kind>-<attempt>-<hash>`, the hash (53 bits, base 36) over what identifies
 * the entry — kind, step, attempt, from, to, outcome, delay, the error's name, code and message, and any other
 * field (an escrow item, an SLA level) except times: not the workflow id (the id is per workflow), not
 * `at`/`startedAt` nor any `...At` field inside `detail` (an SLA's `dueAt`), since a re-run after a crash happens
 * at other times, and not the sizes, which follow from the data. So the same transition re-run from a restored
 * snapshot (machines keep their random state, e.g. the jitter seed, in the snapshot) gets the same id, and two
 * attempts, two items or two SLA levels get different ones. Two entries equal in everything but time are one
 * entry. Subject-safe: `[A-Za-z0-9_-]+`.
 *
 * Computed for every entry on the hot path of every workflow step, so it is a non-cryptographic hash (two FNV-1a
 * lanes) fed field by field without building text: identity within one workflow, not security, is its job.
 */
export function traceEntryId(entry: TraceEntry): string {
  const h = new Fnv2();
  // The known fields of machines/trace.ts by position (no key names, no sort, no text built: this runs for every
  // entry of every step). Sizes follow from the data and the outcome; an error counts by name, code and message.
  for (const key of ENTRY_FIELDS) h.scalar(entry[key]);
  const error = entry['error'];
  if (isRecord(error)) {
    h.scalar(error['name']);
    h.scalar(error['code']);
    h.scalar(error['message']);
  }
  for (const key in entry) {
    if (KNOWN_FIELDS.has(key)) continue;
    const value = entry[key];
    if (value === undefined) continue;
    h.field(key, key === 'detail' && isRecord(value) ? withoutTimes(value) : value);
  }
  return `${token(entry['kind'])}-${token(entry['attempt'])}-${h.digest()}`;
}

/** Identity fields of a workflow trace entry, hashed by position. */
const ENTRY_FIELDS = ['kind', 'step', 'attempt', 'from', 'to', 'outcome', 'delayMs'] as const;
/** Fields the generic loop skips: the ones above, sizes (they follow from the data), the error, the workflow id, times. */
const KNOWN_FIELDS: ReadonlySet<string> = new Set<string>([
  ...ENTRY_FIELDS, 'bytes', 'tokens', 'originalBytes', 'originalTokens', 'summarized', 'error', 'workflowId', ...TIME_FIELDS,
]);

/** Two independent FNV-1a lanes fed field by field; objects in canonical form (keys sorted). */
class Fnv2 {
  private a = 0x811c9dc5;
  private b = 0x9747b28c;

  /** A top-level field by position: its value and a separator. */
  scalar(value: unknown): void {
    if (typeof value === 'string') this.text(value);
    else if (value !== undefined) this.value(value);
    this.code(2);
  }

  field(key: string, value: unknown): void {
    // Keys are sorted for objects below; top-level fields come in a fixed order (known first, then the rest as the
    // machine wrote them, which a restored snapshot reproduces), separated so `ab`+`c` differs from `a`+`bc`.
    this.text(key);
    this.code(1);
    this.value(value);
    this.code(2);
  }

  /**
   * 53 bits of the two lanes (32 of one, 21 of the other) as 11 base-32 digits (`0-9a-v`), built with one
   * `fromCharCode`: `Number#toString(36)` of a 53-bit number took most of the hash's time (measured, Node 20).
   */
  digest(): string {
    const a = this.a >>> 0;
    const b = this.b >>> 11;
    return String.fromCharCode(
      B32[a >>> 27]!, B32[(a >>> 22) & 31]!, B32[(a >>> 17) & 31]!, B32[(a >>> 12) & 31]!, B32[(a >>> 7) & 31]!, B32[(a >>> 2) & 31]!,
      B32[((a & 3) << 3) | (b >>> 18)]!, B32[(b >>> 13) & 31]!, B32[(b >>> 8) & 31]!, B32[(b >>> 3) & 31]!, B32[b & 7]!,
    );
  }

  private value(value: unknown): void {
    switch (typeof value) {
      case 'string':
        this.code(3);
        return this.text(value);
      case 'number':
      case 'boolean':
        return this.text(String(value));
      case 'object':
        if (value === null) return this.text('null');
        if (Array.isArray(value)) {
          this.code(4);
          for (const item of value) {
            this.value(item);
            this.code(5);
          }
          return;
        }
        this.code(6);
        for (const key of Object.keys(value).sort()) {
          const item = (value as Record<string, unknown>)[key];
          if (item !== undefined) this.field(key, item);
        }
        return this.code(7);
      default:
        return this.text('null');
    }
  }

  private text(text: string): void {
    for (let i = 0; i < text.length; i++) this.code(text.charCodeAt(i));
  }

  private code(c: number): void {
    this.a = Math.imul(this.a ^ c, 0x01000193);
    this.b = Math.imul(this.b ^ c, 0x5bd1e995);
    this.b ^= this.b >>> 13;
  }
}

/** One workflow's entries in arrival order; the ids of all of them once a repeat had to be checked. */
interface WorkflowTrace {
  readonly entries: TraceEntry[];
  ids: Set<string> | undefined;
}

export class TraceStore {
  private readonly traces = new Map<string, WorkflowTrace>();
  private droppedEntries = 0;

  constructor(
    private readonly perWorkflow = 10_000,
    private readonly workflows = 10_000,
  ) {}

  /**
   * Stores the entry; false when it is a repeat of one this store has (same id for the workflow). Only an entry
   * that may repeat (`replaying`: its emitter started from a snapshot) is checked, against ids computed on first
   * need; until then a workflow's entries are appended without any id (the embedded default's hot path).
   */
  append(entry: TraceEntry, id?: string, replaying = false): boolean {
    let trace = this.traces.get(entry.workflowId);
    if (!trace) {
      if (this.traces.size >= this.workflows) {
        this.droppedEntries += deleteOldest(this.traces)?.[1].entries.length ?? 0;
      }
      trace = { entries: [], ids: undefined };
      this.traces.set(entry.workflowId, trace);
    }
    if (replaying || trace.ids !== undefined) {
      trace.ids ??= new Set(trace.entries.map(traceEntryId));
      const key = id ?? traceEntryId(entry);
      if (trace.ids.has(key)) return false;
      trace.ids.add(key);
    }
    if (trace.entries.length >= this.perWorkflow) {
      this.droppedEntries++;
      return true;
    }
    trace.entries.push(entry);
    return true;
  }

  get(workflowId: string): readonly TraceEntry[] {
    return [...(this.traces.get(workflowId)?.entries ?? [])];
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

function token(value: unknown): string {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  const text = String(value ?? '');
  return /^[A-Za-z0-9_]{1,24}$/.test(text) ? text : 'x';
}

/** Char codes of the base-32 digits `0-9a-v`. */
const B32 = Array.from('0123456789abcdefghijklmnopqrstuv', (c) => c.charCodeAt(0));
