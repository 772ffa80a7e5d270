import { inspect } from 'node:util';
import { describe, expect, test } from 'vitest';
import { createLanguageModel, llmClientFromEnv, llmSettingsFromEnv, retryAfterMsFrom, scriptedModel, validateLlmSettings } from '../../../actors/index.js';
import { InvalidConfigError } from '../../../src/errors.js';

const KEY = 'sk-config-test-KEY-9876543210';

function configError(fn: () => unknown): InvalidConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidConfigError);
    return error as InvalidConfigError;
  }
  throw new Error('expected an InvalidConfigError');
}

describe('LLM settings from the environment or code', () => {
  test('a complete environment: provider, model, base URL (trailing slash dropped), key', () => {
    const s = llmSettingsFromEnv({ TROUPE_LLM_PROVIDER: 'openai-compatible', TROUPE_LLM_MODEL: 'llama3.1', TROUPE_LLM_BASE_URL: 'http://localhost:11434/v1/', TROUPE_LLM_API_KEY: KEY });
    expect(s).toMatchObject({ provider: 'openai-compatible', model: 'llama3.1', baseURL: 'http://localhost:11434/v1' });
    expect(s?.apiKey).toBe(KEY);
    const model = createLanguageModel(s!);
    expect(model.modelId).toBe('llama3.1');
    expect(model.provider).toContain('openai-compatible');
  });

  test('nothing set: undefined, and llmClientFromEnv takes the fallback or says what to set', () => {
    expect(llmSettingsFromEnv({})).toBeUndefined();
    expect(llmClientFromEnv({ env: {}, fallback: scriptedModel({ script: {} }) }).complete).toBeTypeOf('function');
    expect(configError(() => llmClientFromEnv({ env: {} })).field).toBe('TROUPE_LLM_PROVIDER');
  });

  test('each bad or missing setting names its variable', () => {
    expect(configError(() => llmSettingsFromEnv({ TROUPE_LLM_MODEL: 'gpt-4o' })).message).toMatch(/TROUPE_LLM_PROVIDER: is not set while TROUPE_LLM_MODEL is/);
    expect(configError(() => llmSettingsFromEnv({ TROUPE_LLM_PROVIDER: 'gemini', TROUPE_LLM_MODEL: 'x' })).message).toContain('one of openai, anthropic, openai-compatible');
    expect(configError(() => llmSettingsFromEnv({ TROUPE_LLM_PROVIDER: 'openai', TROUPE_LLM_API_KEY: KEY })).field).toBe('TROUPE_LLM_MODEL');
    expect(configError(() => llmSettingsFromEnv({ TROUPE_LLM_PROVIDER: 'anthropic', TROUPE_LLM_MODEL: 'claude' })).field).toBe('TROUPE_LLM_API_KEY');
    expect(configError(() => llmSettingsFromEnv({ TROUPE_LLM_PROVIDER: 'openai-compatible', TROUPE_LLM_MODEL: 'm' })).field).toBe('TROUPE_LLM_BASE_URL');
    expect(configError(() => llmSettingsFromEnv({ TROUPE_LLM_PROVIDER: 'openai-compatible', TROUPE_LLM_MODEL: 'm', TROUPE_LLM_BASE_URL: 'ftp://x' })).message).toContain('http or https');
    expect(configError(() => validateLlmSettings({ provider: 'openai', model: '', apiKey: KEY })).field).toBe('llm.model');
  });

  test("the provider's own key variable is a fallback for openai and anthropic", () => {
    expect(llmSettingsFromEnv({ TROUPE_LLM_PROVIDER: 'anthropic', TROUPE_LLM_MODEL: 'claude', ANTHROPIC_API_KEY: KEY })?.apiKey).toBe(KEY);
    expect(configError(() => llmSettingsFromEnv({ TROUPE_LLM_PROVIDER: 'openai', TROUPE_LLM_MODEL: 'gpt', OPENAI_API_KEY: 'two words' })).field).toBe('OPENAI_API_KEY');
  });

  test('the key is never echoed by an error, and the settings keep it out of JSON, inspect and spreads', () => {
    const bad = `${KEY}\n`;
    const error = configError(() => validateLlmSettings({ provider: 'openai', model: 'gpt', apiKey: bad }));
    expect(error.field).toBe('llm.apiKey');
    expect(JSON.stringify(error.toPlain()) + inspect(error, { depth: 5 })).not.toContain(KEY);
    const withCreds = configError(() => validateLlmSettings({ provider: 'openai', model: 'gpt', apiKey: KEY, baseURL: `https://user:${KEY}@proxy.example/v1` }));
    expect(withCreds.message).toContain('must not carry credentials');
    expect(withCreds.message).not.toContain(KEY);
    expect(configError(() => validateLlmSettings({ provider: 'openai', model: 'gpt', apiKey: KEY, headers: { Authorization: `Bearer ${KEY}` } })).message).not.toContain(KEY);

    const s = validateLlmSettings({ provider: 'anthropic', model: 'claude', apiKey: KEY });
    expect(s.apiKey).toBe(KEY);
    expect(JSON.stringify(s)).not.toContain(KEY);
    expect(inspect(s)).not.toContain(KEY);
    expect(JSON.stringify({ ...s })).not.toContain(KEY);
    expect(Object.isFrozen(s)).toBe(true);
  });

  test('retry-after: milliseconds, seconds, an HTTP date, junk', () => {
    expect(retryAfterMsFrom({ 'retry-after-ms': '250' })).toBe(250);
    expect(retryAfterMsFrom({ 'Retry-After': '3' })).toBe(3000);
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(retryAfterMsFrom({ 'retry-after': 'Tue, 01 Jan 2030 00:00:07 GMT' }, () => now)).toBe(7000);
    expect(retryAfterMsFrom({ 'retry-after': 'soon' })).toBeUndefined();
    expect(retryAfterMsFrom(undefined)).toBeUndefined();
  });
});
