/**
 * `troupe/actors`: agent-side pieces that need no runtime internals — verifier helpers, summarizers, the default
 * tokenizer and a model-agnostic LLM interface (any Vercel AI SDK model, configured from code or the environment,
 * and a scripted local model for offline use). Shared service actors (circuit breakers, the escrow) are the
 * machines of `troupe/machines`, registered with `system.register(name, logic)`.
 */
export type {
  LlmClient, LlmMessage, LlmRequest, LlmResponse, LlmStopReason, LlmStreamPart, LlmToolCall, LlmToolChoice, LlmToolDefinition, LlmToolResultMessage, LlmUsage,
} from './llm.js';
export { aiSdkClient, collectStream, type AiSdkClientOptions } from './ai-sdk-client.js';
export { LlmErrorType, llmErrorFrom, retryAfterMsFrom, type LlmErrorContext } from './llm-errors.js';
export {
  createLanguageModel, llmClient, llmClientFromEnv, llmSettingsFromEnv, validateLlmSettings,
  LLM_ENV, LLM_INSPECTION_MASK, LLM_LOG_REDACT_PATHS, LLM_PROVIDERS, type LlmProvider, type LlmSettings,
} from './llm-config.js';
export { scriptedModel, SCRIPTED_PROVIDER, SCRIPTED_TEXT_LABEL, type ScriptRule, type ScriptedAnswer, type ScriptedModelOptions, type ScriptedTurn } from './scripted-model.js';
export { mcpTools, type McpClientLike, type McpToolsOptions } from './mcp-tools.js';
export { actorTool, TOOL_CALL_EVENT, type ActorLookup, type ActorToolOptions, type ToolCallEvent } from './actor-tools.js';
export { fnVerifier, allOf, forbids, matches, maxLength, llmVerifier, type Check } from './verifier.js';
export { truncatingSummarizer, llmSummarizer, type SummarizeRequest, type SummarizerFn, type Summarizer } from './summarizer.js';
export { estimateTokens, type Tokenizer } from '../machines/index.js';
