/**
 * A model-agnostic LLM interface: provider adapters (Anthropic, OpenAI, a local model, a test double)
 * implement `LlmClient`, and agent pieces (verifiers, summarizers) depend only on this shape.
 */

export interface LlmMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

export interface LlmRequest {
  readonly messages: readonly LlmMessage[];
  /** Upper bound on the completion's tokens. */
  readonly maxTokens?: number;
  readonly temperature?: number;
  /** Provider-specific model name; the client's default otherwise. */
  readonly model?: string;
  /** Aborts the request (a step's timeout or cancellation). */
  readonly signal?: AbortSignal;
}

export interface LlmResponse {
  readonly text: string;
  readonly model?: string;
  readonly usage?: { readonly inputTokens: number; readonly outputTokens: number };
}

export interface LlmClient {
  complete(request: LlmRequest): Promise<LlmResponse>;
}
