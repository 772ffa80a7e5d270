/**
 * Provider failures as Troupe's typed errors, so the step statechart (not the SDK) decides on retries:
 * retryable: 429, 408, 409, 5xx, 529 (overloaded), timeouts, connections refused or dropped mid-stream — with
 * `retryAfterMs` from `retry-after-ms` / `retry-after`; non-retryable: 400, 401, 403, 404, 422, a refused request;
 * a body that is not what the protocol says: `CodecError`; the caller's abort: `Aborted` (or the signal's Troupe reason).
 *
 * The SDK's error objects carry the request body (the prompt) and response bodies: they are not kept as causes.
 * A cause is rebuilt from the name and message only, with every known secret scrubbed out.
 */
import { APICallError, JSONParseError, TypeValidationError, InvalidResponseDataError, EmptyResponseBodyError, NoContentGeneratedError } from '@ai-sdk/provider';
import { Aborted, CodecError, NonRetryableError, RetryableError, TroupeError } from '../src/errors.js';

/** The `type` of each mapped failure: what a step policy's `nonRetryableErrorTypes` can name. */
export const LlmErrorType = {
  RateLimited: 'LlmRateLimited',
  Overloaded: 'LlmOverloaded',
  ServerError: 'LlmServerError',
  Timeout: 'LlmTimeout',
  ConnectionLost: 'LlmConnectionLost',
  Unauthorized: 'LlmUnauthorized',
  BadRequest: 'LlmBadRequest',
  Refused: 'LlmRefused',
} as const;

export interface LlmErrorContext {
  /** The provider and model, for the message (e.g. `openai.chat gpt-4o`). */
  readonly label: string;
  /** Strings that must never appear in an error (API keys). */
  readonly secrets?: readonly string[];
  readonly signal?: AbortSignal;
  /** Injected clock for HTTP-date `retry-after` values. */
  readonly now?: () => number;
}

const NON_RETRYABLE_STATUS = new Set([400, 401, 403, 404, 413, 422]);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ConnectionClosed', 'ConnectionRefused']);
/** Error types that providers put in a stream's error event (Anthropic, OpenAI) and that will fail the same way again. */
const NON_RETRYABLE_STREAM_TYPES = new Set(['invalid_request_error', 'authentication_error', 'permission_error', 'not_found_error', 'request_too_large']);

/** Maps anything a model call threw (or a stream reported) to a Troupe error. */
export function llmErrorFrom(error: unknown, context: LlmErrorContext): TroupeError {
  const { signal } = context;
  if (signal?.aborted) return abortedError(signal.reason, context);
  if (error instanceof TroupeError) return error;
  const scrub = scrubber(context.secrets);
  const cause = safeCause(error, scrub);
  const where = context.label;
  const unwrapped = lastOfRetryError(error);

  if (APICallError.isInstance(unwrapped)) {
    const status = unwrapped.statusCode;
    const detail = scrub(unwrapped.message);
    if (status !== undefined && status >= 200 && status < 300) {
      if (isMalformed(unwrapped.cause)) return new CodecError(`${where}: the response body does not follow the protocol: ${detail}`, { cause });
      if (unwrapped.isRetryable || findNetworkCode(unwrapped) !== undefined) {
        return new RetryableError(`${where}: the connection dropped while reading the response: ${detail}`, { cause, type: LlmErrorType.ConnectionLost });
      }
      return new CodecError(`${where}: unexpected response: ${detail}`, { cause });
    }
    if (status === undefined) {
      const timeout = findNetworkCode(unwrapped)?.includes('TIMEOUT') || findNetworkCode(unwrapped) === 'ETIMEDOUT';
      return new RetryableError(`${where}: ${detail}`, { cause, type: timeout ? LlmErrorType.Timeout : LlmErrorType.ConnectionLost });
    }
    const retryAfterMs = retryAfterMsFrom(unwrapped.responseHeaders, context.now ?? Date.now);
    const http = `HTTP ${status}`;
    if (status === 429) return new RetryableError(`${where}: rate limited (${http}): ${detail}`, { cause, retryAfterMs, type: LlmErrorType.RateLimited });
    if (status === 529) return new RetryableError(`${where}: overloaded (${http}): ${detail}`, { cause, retryAfterMs, type: LlmErrorType.Overloaded });
    if (status === 408) return new RetryableError(`${where}: request timeout (${http}): ${detail}`, { cause, retryAfterMs, type: LlmErrorType.Timeout });
    if (status === 401 || status === 403) return new NonRetryableError(`${where}: not authorized (${http}): ${detail}`, { cause, type: LlmErrorType.Unauthorized });
    if (NON_RETRYABLE_STATUS.has(status)) return new NonRetryableError(`${where}: request refused (${http}): ${detail}`, { cause, type: LlmErrorType.BadRequest });
    if (status >= 500 || unwrapped.isRetryable) return new RetryableError(`${where}: provider error (${http}): ${detail}`, { cause, retryAfterMs, type: LlmErrorType.ServerError });
    return new NonRetryableError(`${where}: request refused (${http}): ${detail}`, { cause, type: LlmErrorType.Refused });
  }
  if (isMalformed(unwrapped) || InvalidResponseDataError.isInstance(unwrapped) || EmptyResponseBodyError.isInstance(unwrapped)) {
    return new CodecError(`${where}: the response does not follow the protocol: ${scrub(messageOf(unwrapped))}`, { cause });
  }
  if (NoContentGeneratedError.isInstance(unwrapped)) return new RetryableError(`${where}: ${scrub(messageOf(unwrapped))}`, { cause, type: LlmErrorType.ServerError });
  if (isTimeout(unwrapped)) return new RetryableError(`${where}: timed out: ${scrub(messageOf(unwrapped))}`, { cause, type: LlmErrorType.Timeout });
  const code = findNetworkCode(unwrapped);
  if (code !== undefined || isDroppedFetch(unwrapped)) {
    return new RetryableError(`${where}: the connection dropped (${code ?? messageOf(unwrapped)})`, { cause, type: LlmErrorType.ConnectionLost });
  }
  const streamError = providerStreamError(unwrapped);
  if (streamError) {
    const message = `${where}: the provider reported ${streamError.type} in the stream: ${scrub(streamError.message)}`;
    if (NON_RETRYABLE_STREAM_TYPES.has(streamError.type)) return new NonRetryableError(message, { cause, type: LlmErrorType.BadRequest });
    const type = /overload/.test(streamError.type) ? LlmErrorType.Overloaded : /rate_limit/.test(streamError.type) ? LlmErrorType.RateLimited : LlmErrorType.ServerError;
    return new RetryableError(message, { cause, type });
  }
  // Anything else is the SDK refusing the request (invalid prompt, unsupported feature) or a programmer error.
  return new NonRetryableError(`${where}: ${scrub(messageOf(unwrapped))}`, { cause, type: LlmErrorType.Refused });
}

/**
 * The caller aborted: its reason when that is a Troupe error (a step's own TimeoutError, say), a retryable timeout
 * for `AbortSignal.timeout`, else `Aborted` (never retried).
 */
export function abortedError(reason: unknown, context: Pick<LlmErrorContext, 'label' | 'secrets'>): TroupeError {
  if (reason instanceof TroupeError) return reason;
  const cause = safeCause(reason, scrubber(context.secrets));
  if (isTimeout(reason)) return new RetryableError(`${context.label}: timed out`, { cause, type: LlmErrorType.Timeout });
  return new Aborted(`${context.label}: the call was aborted`, {}, { cause });
}

/** `retry-after-ms` (milliseconds), else `retry-after` (seconds or an HTTP date); undefined when absent or unreadable. */
export function retryAfterMsFrom(headers: Record<string, string> | undefined, now: () => number = Date.now): number | undefined {
  if (!headers) return undefined;
  const get = (name: string): string | undefined => headers[name] ?? Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
  const ms = Number.parseFloat(get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return Math.round(ms);
  const after = get('retry-after')?.trim();
  if (!after) return undefined;
  if (/^\d+(\.\d+)?$/.test(after)) return Math.round(Number.parseFloat(after) * 1000);
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now());
}

/** Replaces every secret (of 4 characters or more) in a text. */
export function scrubber(secrets: readonly string[] | undefined): (text: string) => string {
  const list = (secrets ?? []).filter((s) => typeof s === 'string' && s.length >= 4);
  if (list.length === 0) return (text) => text;
  return (text) => list.reduce((out, secret) => out.split(secret).join('[redacted]'), text);
}

/** A cause that keeps only the name, the message (scrubbed) and a network code: no bodies, headers or prompts. */
function safeCause(error: unknown, scrub: (text: string) => string): Error | undefined {
  if (error === undefined) return undefined;
  const inner = lastOfRetryError(error);
  const cause = new Error(scrub(messageOf(inner)));
  cause.name = inner instanceof Error ? inner.name : 'ProviderError';
  const code = findNetworkCode(inner);
  if (code !== undefined) (cause as Error & { code: string }).code = code;
  return cause;
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  const stream = providerStreamError(error);
  if (stream) return `${stream.type}: ${stream.message}`;
  try {
    return typeof error === 'string' ? error : JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}

function isMalformed(error: unknown): boolean {
  return JSONParseError.isInstance(error) || TypeValidationError.isInstance(error);
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && error.name === 'TimeoutError';
}

/** The AI SDK wraps the last failure in a RetryError when it retried; with `maxRetries: 0` it should not, but be sure. */
function lastOfRetryError(error: unknown): unknown {
  const last = (error as { name?: unknown; lastError?: unknown } | null)?.lastError;
  return (error as { name?: unknown } | null)?.name === 'AI_RetryError' && last !== undefined ? last : error;
}

function findNetworkCode(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  let current = error;
  while (current instanceof Error && !seen.has(current)) {
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    current = current.cause;
  }
  return undefined;
}

/** The error object a provider sends inside a stream (`{ type: 'overloaded_error', message }`), not an Error. */
function providerStreamError(error: unknown): { type: string; message: string } | undefined {
  if (typeof error !== 'object' || error === null || error instanceof Error) return undefined;
  const e = error as { type?: unknown; message?: unknown; code?: unknown; error?: unknown };
  if (typeof e.error === 'object' && e.error !== null) return providerStreamError(e.error);
  const type = typeof e.type === 'string' ? e.type : typeof e.code === 'string' ? e.code : undefined;
  if (type === undefined) return undefined;
  return { type, message: typeof e.message === 'string' ? e.message : '' };
}

/** undici's TypeErrors for a connection that failed or closed under a response ('fetch failed', 'terminated'). */
function isDroppedFetch(error: unknown): boolean {
  return error instanceof TypeError && /terminated|fetch failed|other side closed/i.test(error.message);
}
