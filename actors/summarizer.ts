/**
 * Summarizers for the handoff channel (issue 3): called when a handoff is over its token budget; the summary is
 * passed instead and the trace records both sizes. A workflow takes a `SummarizerFn` or a summarizer agent's address.
 */
import type { SummarizerFn, Tokenizer } from '../machines/index.js';
import { estimateTokens } from '../machines/index.js';
import type { LlmClient } from './llm.js';

export type { SummarizeRequest, SummarizerFn, Summarizer } from '../machines/index.js';

/**
 * Keeps the head and the tail of the text within the budget, with a marker of what was cut: no model needed, so a
 * safe default and a fallback when the LLM summarizer's breaker is open.
 */
export function truncatingSummarizer(tokenizer: Tokenizer = estimateTokens): SummarizerFn {
  return ({ text, budget }) => {
    if (tokenizer(text) <= budget) return text;
    // Binary search on characters kept, since tokenizers are not linear in general.
    let lo = 0;
    let hi = text.length;
    const cut = (keep: number) => `${text.slice(0, Math.ceil(keep / 2))} …[${text.length - keep} characters omitted]… ${text.slice(text.length - Math.floor(keep / 2))}`;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (tokenizer(cut(mid)) <= budget) lo = mid;
      else hi = mid - 1;
    }
    return cut(lo);
  };
}

/** Asks an LLM to summarize within the budget (a quarter of it is left for the model's own slack). */
export function llmSummarizer(client: LlmClient, options: { instructions?: string; model?: string } = {}): SummarizerFn {
  return async ({ text, budget, signal }) => {
    const target = Math.max(1, Math.floor(budget * 0.75));
    const response = await client.complete({
      model: options.model,
      maxTokens: target,
      temperature: 0,
      signal,
      messages: [
        { role: 'system', content: `${options.instructions ?? 'Summarize the context for the next step of a workflow. Keep facts, ids, numbers and decisions.'} Use at most ${target} tokens.` },
        { role: 'user', content: text },
      ],
    });
    return response.text;
  };
}
