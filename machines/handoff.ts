/**
 * The handoff channel (issue 3): what one step passes to the next, measured and kept within a token budget.
 *
 * A step receives as `context` the outputs of the steps it reads from (its `from` list, by default every step
 * that finished before it), keyed by step id. The channel measures that data (bytes of its JSON form and tokens,
 * by a pluggable tokenizer). Over the budget (default 4,000 tokens), a summarizer — a function, or an agent
 * address asked with `askTo` — is called and its summary is passed instead; the trace records both sizes.
 */

/** Counts the tokens of a text. Plug in the model's tokenizer; the default is `estimateTokens`. */
export type Tokenizer = (text: string) => number;

/** What a summarizer function receives. */
export interface SummarizeRequest {
  readonly text: string;
  readonly data: unknown;
  readonly budget: number;
  readonly tokens: number;
  readonly workflowId: string;
  readonly stepId: string;
  readonly signal: AbortSignal;
}

/** Shortens `text` to fit `budget` tokens; returns the summary (any plain data, usually a string). */
export type SummarizerFn = (request: SummarizeRequest) => Promise<unknown> | unknown;

/** A summarizer function, or the address of a summarizer agent asked with `{ type: 'summarize', text, budget, ... }`. */
export type Summarizer = SummarizerFn | string;

export const DEFAULT_TOKEN_BUDGET = 4_000;

/** The outputs of the `from` steps that finished (skipped steps have none), keyed by step id. */
export function handoffData(from: readonly string[], results: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const id of from) if (id in results) data[id] = results[id];
  return data;
}

/** What an attempt receives as `context`: the summary when there is one, else the outputs it reads from. */
export function handoffContext(record: HandoffRecord | undefined, from: readonly string[], results: Readonly<Record<string, unknown>>): unknown {
  return record?.summarized === true ? record.context : handoffData(from, results);
}

/**
 * The default tokenizer: about 4 characters per token, rounded up — the usual rule of thumb for English text under
 * GPT- and Claude-style BPE vocabularies (it overestimates code and underestimates CJK text). An estimate only:
 * plug in the model's own tokenizer where budgets must be exact.
 */
export function estimateTokens(text: string): number {
  return tokensOfLength(text.length);
}

function tokensOfLength(chars: number): number {
  return Math.ceil(chars / 4);
}

export interface Measured {
  readonly text: string;
  readonly bytes: number;
  readonly tokens: number;
}

/** The JSON text of `data`, its UTF-8 size and its tokens. */
export function measure(data: unknown, tokenizer: Tokenizer = estimateTokens): Measured {
  const text = typeof data === 'string' ? data : JSON.stringify(data ?? null);
  return { text, bytes: utf8Length(text), tokens: tokenizer(text) };
}

/**
 * The size of a step's output as one value of a later handoff (its JSON form), kept in the step's record so that
 * each later handoff is measured by summing, not by serializing every earlier output again (which made a workflow's
 * measuring quadratic in its outputs). Null for an output JSON leaves out (`undefined`, a function).
 */
export interface OutputSize {
  /** UTF-16 length of the JSON text: what the default tokenizer counts. */
  readonly chars: number;
  readonly bytes: number;
}

export function outputSize(output: unknown): OutputSize | null {
  const json = JSON.stringify(output) as string | undefined;
  return json === undefined ? null : { chars: json.length, bytes: utf8Length(json) };
}

/** A key of a handoff's JSON object, sized once when the workflow is compiled. */
export interface HandoffKey {
  readonly id: string;
  /** Length and UTF-8 size of `"id":`. */
  readonly chars: number;
  readonly bytes: number;
}

/** The distinct keys of a handoff read from `from`. */
export function handoffKeys(from: readonly string[]): HandoffKey[] {
  return [...new Set(from)].map((id) => {
    const key = `${JSON.stringify(id)}:`;
    return { id, chars: key.length, bytes: utf8Length(key) };
  });
}

/**
 * The size of `handoffData(from, results)` from the outputs' recorded sizes, without building its text — for the
 * default tokenizer only (it counts characters; a custom one needs the text). Undefined when an output has no
 * recorded size (a snapshot from before sizes were kept): the caller measures the text instead.
 */
export function summedSize(
  keys: readonly HandoffKey[], results: Readonly<Record<string, unknown>>, sizeOf: (id: string) => OutputSize | null | undefined,
): { bytes: number; tokens: number } | undefined {
  let chars = 1; // '{', then one ',' or '}' after each entry
  let bytes = 1;
  let entries = 0;
  for (const key of keys) {
    if (!(key.id in results)) continue;
    const size = sizeOf(key.id);
    if (size === undefined) return undefined;
    if (size === null) continue; // a value JSON leaves out, with its key
    chars += key.chars + size.chars + 1;
    bytes += key.bytes + size.bytes + 1;
    entries++;
  }
  if (entries === 0) { chars++; bytes++; }
  return { bytes, tokens: tokensOfLength(chars) };
}

const encoder = typeof Buffer === 'undefined' ? new TextEncoder() : undefined;

/** UTF-8 size; `Buffer.byteLength` where Node is (no copy), `TextEncoder` elsewhere (machines are portable). */
function utf8Length(text: string): number {
  return encoder === undefined ? Buffer.byteLength(text, 'utf8') : encoder.encode(text).length;
}

/**
 * The handoff as stored in the step's record: what was passed and how big it was before and after. Only a summary
 * is stored (`context`): a whole handoff is rebuilt from `results` when an attempt starts, so snapshots do not
 * carry a copy of every earlier output per step.
 */
export interface HandoffRecord {
  readonly from: readonly string[];
  /** The summary passed instead of the original, while the step runs; undefined when passed whole. */
  readonly context?: unknown;
  readonly bytes: number;
  readonly tokens: number;
  readonly originalBytes: number;
  readonly originalTokens: number;
  readonly summarized: boolean;
}
