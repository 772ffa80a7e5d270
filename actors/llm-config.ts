/**
 * Which model to talk to, from the environment or from code: provider, base URL, API key, model.
 *
 *   TROUPE_LLM_PROVIDER   openai | anthropic | openai-compatible (vLLM, Ollama, OpenRouter, LM Studio ...)
 *   TROUPE_LLM_MODEL      the provider's model id (gpt-4o-mini, claude-sonnet-4-5, llama3.1 ...)
 *   TROUPE_LLM_BASE_URL   optional for openai and anthropic, required for openai-compatible (http or https)
 *   TROUPE_LLM_API_KEY    required for openai and anthropic (else OPENAI_API_KEY / ANTHROPIC_API_KEY), optional otherwise
 *
 * A bad or missing setting is an InvalidConfigError naming the variable (or the field, from code). The key never
 * appears in an error message, and the validated settings hold it as a non-enumerable property, so logging,
 * JSON-encoding, inspecting or spreading them leaves it out; provider errors are scrubbed of it (llm-errors.ts).
 * OpenAI and OpenAI-compatible servers are spoken to through the Chat Completions API.
 */
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { LanguageModelV3 } from '@ai-sdk/provider';
import type { LanguageModel } from 'ai';
import { InvalidConfigError } from '../src/errors.js';
import { aiSdkClient } from './ai-sdk-client.js';
import type { LlmClient } from './llm.js';

export const LLM_PROVIDERS = ['openai', 'anthropic', 'openai-compatible'] as const;
export type LlmProvider = (typeof LLM_PROVIDERS)[number];

export interface LlmSettings {
  readonly provider: LlmProvider;
  readonly model: string;
  readonly baseURL?: string;
  readonly apiKey?: string;
  /** Extra HTTP headers on every request (e.g. OpenRouter's `HTTP-Referer`). Never put the key here. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** The environment variables read by `llmSettingsFromEnv`. */
export const LLM_ENV = {
  provider: 'TROUPE_LLM_PROVIDER',
  model: 'TROUPE_LLM_MODEL',
  baseURL: 'TROUPE_LLM_BASE_URL',
  apiKey: 'TROUPE_LLM_API_KEY',
} as const;

const PROVIDER_KEY_ENV: Partial<Record<LlmProvider, string>> = { openai: 'OPENAI_API_KEY', anthropic: 'ANTHROPIC_API_KEY' };

/** pino `redact` paths (fast-redact syntax) for objects that may hold LLM settings or request headers. */
export const LLM_LOG_REDACT_PATHS: readonly string[] = [
  'apiKey', '*.apiKey', '*.*.apiKey',
  'headers.authorization', '*.headers.authorization', 'headers["x-api-key"]', '*.headers["x-api-key"]',
];

/** Inspection mask paths (src/inspection/mask.ts syntax) for the same fields in snapshots, events and traces. */
export const LLM_INSPECTION_MASK: readonly string[] = ['**.apiKey', '**.headers.authorization', '**.headers.x-api-key'];

/**
 * Settings from the environment; undefined when no TROUPE_LLM_* variable is set (the caller picks its offline
 * default), an InvalidConfigError naming the variable when they are set but incomplete or wrong.
 */
export function llmSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): LlmSettings | undefined {
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const provider = read(LLM_ENV.provider);
  const model = read(LLM_ENV.model);
  const baseURL = read(LLM_ENV.baseURL);
  const ownKey = env[LLM_ENV.apiKey];
  if (provider === undefined) {
    const stray = [LLM_ENV.model, LLM_ENV.baseURL, LLM_ENV.apiKey].find((name) => read(name) !== undefined);
    if (stray) throw new InvalidConfigError(LLM_ENV.provider, `is not set while ${stray} is; set it to one of ${LLM_PROVIDERS.join(', ')}`);
    return undefined;
  }
  const keyEnv = PROVIDER_KEY_ENV[provider as LlmProvider];
  const apiKey = ownKey !== undefined && ownKey !== '' ? ownKey : keyEnv ? env[keyEnv] || undefined : undefined;
  const field = (name: keyof typeof LLM_ENV): string => (name === 'apiKey' && ownKey === undefined && keyEnv && env[keyEnv] ? keyEnv : LLM_ENV[name]);
  return validateLlmSettings({ provider: provider as LlmProvider, model: model ?? '', baseURL, apiKey }, field);
}

/**
 * Checks settings from code (or the environment) and returns a frozen copy whose `apiKey` is non-enumerable.
 * `fieldName` says how to name a bad field in the error (`llm.model` from code, the variable from the environment).
 */
export function validateLlmSettings(settings: LlmSettings, fieldName: (field: keyof typeof LLM_ENV) => string = (f) => `llm.${f}`): LlmSettings {
  if (typeof settings !== 'object' || settings === null) throw new InvalidConfigError('llm', 'must be an object { provider, model, baseURL?, apiKey? }');
  const { provider, model, baseURL, apiKey, headers } = settings;
  if (!LLM_PROVIDERS.includes(provider)) {
    throw new InvalidConfigError(fieldName('provider'), `must be one of ${LLM_PROVIDERS.join(', ')} (got ${JSON.stringify(String(provider))})`);
  }
  if (typeof model !== 'string' || model.trim() === '') throw new InvalidConfigError(fieldName('model'), `is required: the ${provider} model id`);
  if (/\s/.test(model)) throw new InvalidConfigError(fieldName('model'), 'must not contain whitespace');
  if (baseURL !== undefined) checkBaseURL(baseURL, fieldName('baseURL'));
  else if (provider === 'openai-compatible') throw new InvalidConfigError(fieldName('baseURL'), 'is required for an openai-compatible server (e.g. http://localhost:11434/v1)');
  if (apiKey !== undefined) {
    // The value is never echoed, not even in part.
    if (typeof apiKey !== 'string' || apiKey === '') throw new InvalidConfigError(fieldName('apiKey'), 'must be a non-empty string');
    if (/[\s\u0000-\u001f]/.test(apiKey)) throw new InvalidConfigError(fieldName('apiKey'), 'contains whitespace or control characters (a stray newline from a file?)');
  } else if (provider !== 'openai-compatible') {
    const alt = PROVIDER_KEY_ENV[provider];
    throw new InvalidConfigError(fieldName('apiKey'), `is required for ${provider} (set ${LLM_ENV.apiKey}${alt ? ` or ${alt}` : ''})`);
  }
  if (headers !== undefined && Object.keys(headers).some((h) => /^(authorization|x-api-key)$/i.test(h))) {
    throw new InvalidConfigError('llm.headers', 'must not carry the key (authorization, x-api-key): set apiKey, which is kept out of logs');
  }
  const out: Record<string, unknown> = { provider, model };
  if (baseURL !== undefined) out['baseURL'] = baseURL.replace(/\/+$/, '');
  if (headers !== undefined) out['headers'] = { ...headers };
  if (apiKey !== undefined) Object.defineProperty(out, 'apiKey', { value: apiKey, enumerable: false });
  return Object.freeze(out) as unknown as LlmSettings;
}

function checkBaseURL(value: string, field: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidConfigError(field, 'is not a URL (e.g. http://localhost:11434/v1)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidConfigError(field, `must be http or https (got ${url.protocol})`);
  if (url.username || url.password) throw new InvalidConfigError(field, 'must not carry credentials: set the API key instead');
}

/** The AI SDK model the settings name (validated first). */
export function createLanguageModel(input: LlmSettings): LanguageModelV3 {
  const s = validateLlmSettings(input);
  const common = { baseURL: s.baseURL, apiKey: s.apiKey, headers: s.headers ? { ...s.headers } : undefined };
  switch (s.provider) {
    case 'openai':
      return createOpenAI(common).chat(s.model);
    case 'anthropic':
      return createAnthropic(common).messages(s.model);
    case 'openai-compatible':
      return createOpenAICompatible({ ...common, baseURL: s.baseURL!, name: 'openai-compatible', includeUsage: true }).chatModel(s.model);
  }
}

/** An `LlmClient` for the settings; provider errors are scrubbed of the key. */
export function llmClient(settings: LlmSettings): LlmClient {
  const s = validateLlmSettings(settings);
  return aiSdkClient(createLanguageModel(s), { secrets: s.apiKey ? [s.apiKey] : [] });
}

/**
 * The client the environment names, else `fallback` (e.g. the scripted local model offline); an
 * InvalidConfigError when neither is there or the environment is wrong.
 */
export function llmClientFromEnv(options: { env?: NodeJS.ProcessEnv; fallback?: LanguageModel } = {}): LlmClient {
  const settings = llmSettingsFromEnv(options.env);
  if (settings) return llmClient(settings);
  if (options.fallback !== undefined) return aiSdkClient(options.fallback);
  throw new InvalidConfigError(LLM_ENV.provider, `is not set; set it to one of ${LLM_PROVIDERS.join(', ')} with ${LLM_ENV.model} (and ${LLM_ENV.apiKey})`);
}
