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
  return Math.ceil(text.length / 4);
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
