/**
 * A model-agnostic LLM interface: Troupe's thin, normalized seam. Agent pieces (verifiers, summarizers, the agent
 * statechart) depend only on this shape; `aiSdkClient` adapts any Vercel AI SDK `LanguageModel` to it (OpenAI,
 * Anthropic, OpenAI-compatible servers, the scripted local model, any other AI SDK provider).
 *
 * Everything here is plain data (durable snapshots and journals can hold it); failures are Troupe's typed errors
 * (`RetryableError` with `retryAfterMs`, `NonRetryableError`, `CodecError`, `Aborted`), never a provider's own.
 */
import type { TokenUsage } from '../src/trace-entry.js';

/** A tool call the model asked for; `input` is the parsed JSON arguments. */
export interface LlmToolCall {
  readonly id: string;
  readonly name: string;
  readonly input: unknown;
  /** Set when the call cannot be run as asked (an unknown tool, arguments that are not JSON): tell the model. */
  readonly error?: string;
}

export type LlmMessage =
  | { readonly role: 'system' | 'user'; readonly content: string }
  | { readonly role: 'assistant'; readonly content: string; readonly toolCalls?: readonly LlmToolCall[] }
  | LlmToolResultMessage;

/** The result of one tool call, answered back to the model. `content` is plain data (a string or JSON). */
export interface LlmToolResultMessage {
  readonly role: 'tool';
  readonly toolCallId: string;
  readonly toolName: string;
  readonly content: unknown;
  /** The tool failed; `content` describes how. */
  readonly isError?: boolean;
}

/** A tool the model may call: a name, what it is for, and its arguments as a JSON Schema object. */
export interface LlmToolDefinition {
  readonly name: string;
  readonly description?: string;
  readonly inputSchema: Readonly<Record<string, unknown>>;
}

export type LlmToolChoice = 'auto' | 'none' | 'required' | { readonly tool: string };

export interface LlmRequest {
  readonly messages: readonly LlmMessage[];
  readonly tools?: readonly LlmToolDefinition[];
  readonly toolChoice?: LlmToolChoice;
  /** Upper bound on the completion's tokens. */
  readonly maxTokens?: number;
  readonly temperature?: number;
  /** Provider-specific model name; the client's default otherwise (an AI SDK model has its own: this must match or be absent). */
  readonly model?: string;
  /** Aborts the request (a step's timeout or cancellation). */
  readonly signal?: AbortSignal;
}

/** Why the model stopped: the AI SDK's unified finish reasons. */
export type LlmStopReason = 'stop' | 'length' | 'tool-calls' | 'content-filter' | 'error' | 'other';

/** Token counts as the provider reported them (never an estimate, except from the scripted model, which says so). */
export type LlmUsage = TokenUsage;

export interface LlmResponse {
  readonly text: string;
  /** The tool calls the model asked for (absent or empty: none). */
  readonly toolCalls?: readonly LlmToolCall[];
  /** Absent from clients that do not say; the AI SDK adapter always sets it. */
  readonly stopReason?: LlmStopReason;
  readonly model?: string;
  readonly usage?: LlmUsage;
  /** The answer came from a scripted local model, not a real one. */
  readonly scripted?: boolean;
}

/** What a streamed completion yields: deltas as they arrive, then the whole response once. */
export type LlmStreamPart =
  | { readonly type: 'text-delta'; readonly text: string }
  | { readonly type: 'tool-call-delta'; readonly toolCallId: string; readonly toolName: string; readonly inputDelta: string }
  | { readonly type: 'tool-call'; readonly toolCall: LlmToolCall }
  | { readonly type: 'finish'; readonly response: LlmResponse };

export interface LlmClient {
  /** Who serves it (`openai.chat`, `anthropic.messages`, ...), for traces (`gen_ai.provider.name`); optional. */
  readonly provider?: string;
  /** The model it calls when a request names none, for traces (`gen_ai.request.model`); optional. */
  readonly modelId?: string;
  complete(request: LlmRequest): Promise<LlmResponse>;
  /** Streams the completion; the last part is `finish`. Failures are thrown from the iteration, typed. */
  stream?(request: LlmRequest): AsyncIterable<LlmStreamPart>;
}
