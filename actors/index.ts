/**
 * `troupe/actors`: agent-side pieces that need no runtime internals — verifier helpers, summarizers, the default
 * tokenizer and a model-agnostic LLM interface. Shared service actors (circuit breakers, the escrow) are the
 * machines of `troupe/machines`, registered with `system.register(name, logic)`.
 */
export { type LlmClient, type LlmMessage, type LlmRequest, type LlmResponse } from './llm.js';
export { fnVerifier, allOf, forbids, matches, maxLength, llmVerifier, type Check } from './verifier.js';
export { truncatingSummarizer, llmSummarizer, type SummarizeRequest, type SummarizerFn, type Summarizer } from './summarizer.js';
export { estimateTokens, type Tokenizer } from '../machines/index.js';
