/**
 * The one adapter from any Vercel AI SDK `LanguageModel` (v6 line: OpenAI, Anthropic, OpenAI-compatible servers,
 * the scripted local model, any other provider) to Troupe's `LlmClient`.
 *
 * The SDK's own retries are off (`maxRetries: 0`): retry, backoff, breakers and escalation belong to the step
 * statechart, which sees each failure once, typed (see llm-errors.ts).
 */
import { generateText, streamText, type LanguageModel } from 'ai';
import type { LlmClient, LlmRequest, LlmResponse, LlmStreamPart, LlmToolCall } from './llm.js';
import { abortedError, llmErrorFrom, type LlmErrorContext } from './llm-errors.js';
import { fromFinishReason, fromToolCall, fromUsage, toModelMessages, toToolChoice, toToolSet } from './llm-prompt.js';
import { CodecError, InvalidConfigError } from '../src/errors.js';

export interface AiSdkClientOptions {
  /** Strings that must never appear in an error (the API key the model was built with). */
  readonly secrets?: readonly string[];
  /** Models by name for requests that name one (`LlmRequest.model`); without it, only the client's own model is accepted. */
  readonly models?: (name: string) => LanguageModel;
  /** Extra HTTP headers on every request. */
  readonly headers?: Record<string, string>;
  /** The provider's warnings about a call (an unsupported setting ignored, say); the SDK's console logging is off. */
  readonly onWarning?: (warnings: readonly unknown[], model: string) => void;
}

// A library does not write to the application's stdout (the SDK prints its warnings with console.info/warn):
// unless the application chose otherwise, warnings reach `onWarning` only.
const sdkGlobals = globalThis as { AI_SDK_LOG_WARNINGS?: unknown };
if (sdkGlobals.AI_SDK_LOG_WARNINGS === undefined) sdkGlobals.AI_SDK_LOG_WARNINGS = false;

/** Wraps an AI SDK model as an `LlmClient`. */
export function aiSdkClient(model: LanguageModel, options: AiSdkClientOptions = {}): LlmClient {
  const defaultId = typeof model === 'string' ? model : model.modelId;
  const labelOf = (m: LanguageModel): string => (typeof m === 'string' ? m : `${m.provider} ${m.modelId}`);

  const prepare = (request: LlmRequest) => {
    const chosen = pickModel(request.model);
    const context: LlmErrorContext = { label: labelOf(chosen), secrets: options.secrets, signal: request.signal };
    if (request.signal?.aborted) throw abortedError(request.signal.reason, context);
    const call = {
      model: chosen,
      messages: toModelMessages(request.messages),
      allowSystemInMessages: true,
      tools: toToolSet(request.tools),
      toolChoice: toToolChoice(request.toolChoice),
      maxOutputTokens: request.maxTokens,
      temperature: request.temperature,
      abortSignal: request.signal,
      headers: options.headers,
      maxRetries: 0,
    };
    return { call, context, modelId: typeof chosen === 'string' ? chosen : chosen.modelId };
  };

  function pickModel(name: string | undefined): LanguageModel {
    if (name === undefined || name === defaultId) return model;
    if (options.models) return options.models(name);
    throw new InvalidConfigError('model', `this client serves ${JSON.stringify(defaultId)}, not ${JSON.stringify(name)} (pass options.models to serve others)`);
  }

  return {
    ...(typeof model === 'string' ? {} : { provider: model.provider }),
    modelId: defaultId,
    async complete(request) {
      const { call, context, modelId } = prepare(request);
      try {
        const result = await generateText(call);
        if (result.warnings?.length) options.onWarning?.(result.warnings, context.label);
        return withScripted(
          {
            text: result.text,
            toolCalls: result.toolCalls.map(fromToolCall),
            stopReason: fromFinishReason(result.finishReason),
            model: result.response.modelId ?? modelId,
            usage: fromUsage(result.totalUsage),
          },
          result.providerMetadata,
        );
      } catch (error) {
        throw llmErrorFrom(error, context);
      }
    },

    async *stream(request): AsyncIterable<LlmStreamPart> {
      const { call, context, modelId } = prepare(request);
      // Errors come through the stream as parts; swallow the SDK's default console report of them.
      const result = streamText({ ...call, onError: () => {} });
      let text = '';
      const toolCalls: LlmToolCall[] = [];
      const toolNames = new Map<string, string>();
      let response: Omit<LlmResponse, 'text' | 'toolCalls'> = { stopReason: 'other', model: modelId };
      let metadata: unknown;
      try {
        for await (const part of result.fullStream) {
          switch (part.type) {
            case 'text-delta':
              text += part.text;
              yield { type: 'text-delta', text: part.text };
              break;
            case 'tool-input-start':
              toolNames.set(part.id, part.toolName);
              break;
            case 'tool-input-delta':
              yield { type: 'tool-call-delta', toolCallId: part.id, toolName: toolNames.get(part.id) ?? '', inputDelta: part.delta };
              break;
            case 'tool-call': {
              const toolCall = fromToolCall(part);
              toolCalls.push(toolCall);
              yield { type: 'tool-call', toolCall };
              break;
            }
            case 'start-step':
              if (part.warnings.length) options.onWarning?.(part.warnings, context.label);
              break;
            case 'finish-step':
              metadata = part.providerMetadata;
              response = { ...response, model: part.response.modelId ?? modelId };
              break;
            case 'finish':
              response = { ...response, stopReason: fromFinishReason(part.finishReason), usage: fromUsage(part.totalUsage) };
              break;
            case 'error':
              throw llmErrorFrom(part.error, context);
            case 'abort':
              throw abortedError(request.signal?.reason, context);
            default:
              break;
          }
        }
      } catch (error) {
        throw llmErrorFrom(error, context);
      }
      if (request.signal?.aborted) throw abortedError(request.signal.reason, context);
      yield { type: 'finish', response: withScripted({ text, toolCalls, ...response }, metadata) };
    },
  };
}

/** Marks answers of the scripted local model (it says so in its provider metadata). */
function withScripted(response: LlmResponse, providerMetadata: unknown): LlmResponse {
  const scripted = (providerMetadata as { troupe?: { scripted?: unknown } } | undefined)?.troupe?.scripted === true;
  return scripted ? { ...response, scripted: true } : response;
}

/** Reads a stream to its end: the final response (for callers that want `complete` semantics over streaming). */
export async function collectStream(parts: AsyncIterable<LlmStreamPart>): Promise<LlmResponse> {
  for await (const part of parts) if (part.type === 'finish') return part.response;
  throw new CodecError('the LLM stream ended without a finish part');
}
