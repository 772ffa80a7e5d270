/**
 * The AI SDK adapter against the real AI SDK providers (OpenAI Chat Completions, Anthropic Messages,
 * OpenAI-compatible) pointed at a local server that speaks their wire protocols (test/fixtures/llm-provider-server.ts).
 */
import { inspect } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { aiSdkClient, collectStream, createLanguageModel, llmClient, type LlmClient, type LlmProvider, type LlmStreamPart } from '../../actors/index.js';
import { Aborted, CodecError, NonRetryableError, RetryableError, toPlainError } from '../../src/errors.js';
import {
  anthropicError, anthropicMessage, anthropicStreamEvents, hang, malformed, openaiCompletion, openaiError, openaiStreamEvents, sse, startProviderServer,
  type ProviderServer, type Reply, type SseEvent, type ToolCallSpec,
} from '../fixtures/llm-provider-server.js';

const KEY = 'sk-test-0123456789abcdef-SECRET';

let server: ProviderServer;
beforeAll(async () => {
  server = await startProviderServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.requests.length = 0;
});

/** What each protocol's replies look like, so one test body covers both. */
interface Protocol {
  readonly provider: LlmProvider;
  readonly path: string;
  answer(a: { text?: string; toolCalls?: ToolCallSpec[]; usage?: { input: number; output: number } }): Reply;
  streamEvents(a: { text?: string[]; toolCalls?: ToolCallSpec[]; pieces?: number; usage?: { input: number; output: number } }): SseEvent[];
  error(status: number, message: string, headers?: Record<string, string>): Reply;
  keyOf(headers: Record<string, unknown>): unknown;
}

const openai: Protocol = {
  provider: 'openai',
  path: '/v1/chat/completions',
  answer: openaiCompletion,
  streamEvents: openaiStreamEvents,
  error: openaiError,
  keyOf: (h) => h['authorization'],
};
const anthropic: Protocol = {
  provider: 'anthropic',
  path: '/v1/messages',
  answer: anthropicMessage,
  streamEvents: anthropicStreamEvents,
  error: (status, message, headers) =>
    anthropicError(status, status === 429 ? 'rate_limit_error' : status === 529 ? 'overloaded_error' : status === 401 ? 'authentication_error' : status >= 500 ? 'api_error' : 'invalid_request_error', message, headers),
  keyOf: (h) => h['x-api-key'],
};
const compatible: Protocol = { ...openai, provider: 'openai-compatible' };

function clientFor(p: Protocol): LlmClient {
  return llmClient({ provider: p.provider, model: p === anthropic ? 'claude-test' : 'gpt-test', baseURL: server.baseURL, apiKey: KEY });
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

async function drain(parts: AsyncIterable<LlmStreamPart>, seen: LlmStreamPart[]): Promise<void> {
  for await (const part of parts) seen.push(part);
}

const weather = { name: 'weather', description: 'The weather in a city', inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };

describe.each([openai, anthropic, compatible])('LLM adapter over the $provider provider', (p) => {
  test('a plain answer: text, usage as reported, stop reason, the key sent as the protocol says, one request', async () => {
    server.enqueue(p.answer({ text: 'Hello, Ms. Lee.', usage: { input: 21, output: 5 } }));
    const response = await clientFor(p).complete({
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Greet Ms. Lee' }],
      maxTokens: 50,
      temperature: 0,
    });
    expect(response).toMatchObject({ text: 'Hello, Ms. Lee.', stopReason: 'stop', usage: { inputTokens: 21, outputTokens: 5 }, toolCalls: [] });
    expect(response.scripted).toBeUndefined();
    expect(server.requests).toHaveLength(1);
    const [req] = server.requests;
    expect(req?.path).toBe(p.path);
    expect(String(p.keyOf(req!.headers))).toContain(KEY);
    expect(JSON.stringify(req?.body)).toContain('Greet Ms. Lee');
    expect(JSON.stringify(req?.body)).toContain('Be brief.');
  });

  test('tools: definitions go out, a tool call comes back parsed, and the tool result is sent on the next turn', async () => {
    server.enqueue(p.answer({ toolCalls: [{ id: 'call_1', name: 'weather', input: { city: 'Oslo' } }], usage: { input: 30, output: 8 } }));
    const client = clientFor(p);
    const first = await client.complete({ messages: [{ role: 'user', content: 'Weather in Oslo?' }], tools: [weather] });
    expect(first.stopReason).toBe('tool-calls');
    expect(first.toolCalls).toEqual([{ id: 'call_1', name: 'weather', input: { city: 'Oslo' } }]);
    expect(JSON.stringify(server.requests[0]?.body)).toContain('The weather in a city');

    server.enqueue(p.answer({ text: 'Sunny in Oslo.', usage: { input: 40, output: 4 } }));
    const second = await client.complete({
      messages: [
        { role: 'user', content: 'Weather in Oslo?' },
        { role: 'assistant', content: '', toolCalls: first.toolCalls },
        { role: 'tool', toolCallId: 'call_1', toolName: 'weather', content: { sky: 'sunny', celsius: 21 } },
      ],
      tools: [weather],
    });
    expect(second.text).toBe('Sunny in Oslo.');
    const sent = JSON.stringify(server.requests[1]?.body);
    expect(sent).toContain('call_1');
    expect(sent).toContain('celsius');
  });

  test('streaming: text deltas, tool-call deltas assembled into tool calls, usage and stop reason in the finish', async () => {
    const calls = [
      { id: 'call_a', name: 'weather', input: { city: 'Oslo' } },
      { id: 'call_b', name: 'weather', input: { city: 'Bergen, Norway' } },
    ];
    server.enqueue(sse(p.streamEvents({ text: ['Let me ', 'check.'], toolCalls: calls, pieces: 4, usage: { input: 33, output: 17 } })));
    const parts: LlmStreamPart[] = [];
    await drain(clientFor(p).stream!({ messages: [{ role: 'user', content: 'Weather?' }], tools: [weather] }), parts);
    expect(parts.filter((x) => x.type === 'text-delta').map((x) => (x as { text: string }).text).join('')).toBe('Let me check.');
    const deltas = parts.filter((x) => x.type === 'tool-call-delta');
    expect(deltas.length).toBeGreaterThanOrEqual(4);
    expect(deltas.every((d) => d.type === 'tool-call-delta' && d.toolName === 'weather')).toBe(true);
    const assembled = parts.flatMap((x) => (x.type === 'tool-call' ? [x.toolCall] : []));
    expect(assembled).toEqual(calls.map((c) => ({ id: c.id, name: c.name, input: c.input })));
    const finish = parts.at(-1);
    expect(finish?.type).toBe('finish');
    expect(finish?.type === 'finish' && finish.response).toMatchObject({ text: 'Let me check.', stopReason: 'tool-calls', usage: { inputTokens: 33, outputTokens: 17 }, toolCalls: assembled });
  });

  test('429 with retry-after: RetryableError with retryAfterMs, and the SDK does not retry by itself', async () => {
    server.enqueue(p.error(429, 'slow down', { 'retry-after': '2' }));
    const error = await failureOf(clientFor(p).complete({ messages: [{ role: 'user', content: 'hi' }] }));
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).retryAfterMs).toBe(2000);
    expect((error as RetryableError).data['type']).toBe('LlmRateLimited');
    expect(error.message).toContain('429');
    expect(server.requests).toHaveLength(1);
  });

  test('retry-after-ms wins over retry-after', async () => {
    server.enqueue(p.error(429, 'slow down', { 'retry-after-ms': '1500', 'retry-after': '9' }));
    const error = await failureOf(clientFor(p).complete({ messages: [{ role: 'user', content: 'hi' }] }));
    expect((error as RetryableError).retryAfterMs).toBe(1500);
  });

  test('a 500 is retryable, and the next call (the step statechart retrying) succeeds', async () => {
    server.enqueue(p.error(500, 'internal'), p.answer({ text: 'ok', usage: { input: 1, output: 1 } }));
    const client = clientFor(p);
    const error = await failureOf(client.complete({ messages: [{ role: 'user', content: 'hi' }] }));
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).data['type']).toBe('LlmServerError');
    expect(server.requests).toHaveLength(1);
    expect((await client.complete({ messages: [{ role: 'user', content: 'hi' }] })).text).toBe('ok');
  });

  test('401 is non-retryable, and the key echoed by the provider appears nowhere in the error', async () => {
    server.enqueue(p.error(401, `Incorrect API key provided: ${KEY}`));
    const error = await failureOf(clientFor(p).complete({ messages: [{ role: 'user', content: 'hi' }] }));
    expect(error).toBeInstanceOf(NonRetryableError);
    expect((error as NonRetryableError).data['type']).toBe('LlmUnauthorized');
    expect(error.message).toContain('401');
    expect(error.message).toContain('[redacted]');
    for (const text of [error.message, JSON.stringify(toPlainError(error)), inspect(error, { depth: 10, showHidden: true }), String(error.stack)]) {
      expect(text).not.toContain(KEY);
    }
    // The cause keeps no response body or prompt either.
    expect(inspect(error.cause, { depth: 5 })).not.toContain('requestBodyValues');
  });

  test('400 is non-retryable', async () => {
    server.enqueue(p.error(400, 'bad request'));
    const error = await failureOf(clientFor(p).complete({ messages: [{ role: 'user', content: 'hi' }] }));
    expect(error).toBeInstanceOf(NonRetryableError);
    expect((error as NonRetryableError).data['type']).toBe('LlmBadRequest');
  });

  test('a malformed JSON body is a CodecError', async () => {
    server.enqueue(malformed());
    const error = await failureOf(clientFor(p).complete({ messages: [{ role: 'user', content: 'hi' }] }));
    expect(error).toBeInstanceOf(CodecError);
  });

  test('a connection dropped mid-stream is retryable, after the deltas that did arrive', async () => {
    const events = p.streamEvents({ text: ['one ', 'two ', 'three'], usage: { input: 1, output: 3 } });
    server.enqueue(sse(events, { dropAfter: 3 }));
    const parts: LlmStreamPart[] = [];
    const error = await failureOf(drain(clientFor(p).stream!({ messages: [{ role: 'user', content: 'count' }] }), parts));
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).data['type']).toBe('LlmConnectionLost');
    expect(parts.some((x) => x.type === 'text-delta')).toBe(true);
    expect(parts.some((x) => x.type === 'finish')).toBe(false);
  });

  test('an aborted signal: the call rejects with Aborted and the connection is closed; an already aborted one sends nothing', async () => {
    server.enqueue(hang());
    const controller = new AbortController();
    const abandonedBefore = server.abandonedRequests();
    const pending = failureOf(clientFor(p).complete({ messages: [{ role: 'user', content: 'hi' }], signal: controller.signal }));
    for (let i = 0; i < 200 && server.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(server.requests).toHaveLength(1);
    controller.abort();
    expect(await pending).toBeInstanceOf(Aborted);
    for (let i = 0; i < 200 && server.abandonedRequests() === abandonedBefore; i++) await new Promise((r) => setTimeout(r, 10));
    expect(server.abandonedRequests()).toBeGreaterThan(abandonedBefore);

    const done = new AbortController();
    done.abort();
    expect(await failureOf(clientFor(p).complete({ messages: [{ role: 'user', content: 'hi' }], signal: done.signal }))).toBeInstanceOf(Aborted);
    expect(await failureOf(collectStream(clientFor(p).stream!({ messages: [{ role: 'user', content: 'hi' }], signal: done.signal })))).toBeInstanceOf(Aborted);
    expect(server.requests).toHaveLength(1);
  });
});

describe('provider-specific behaviour', () => {
  test("the provider's warnings reach onWarning, not the console", async () => {
    server.enqueue(anthropic.answer({ text: 'ok', usage: { input: 1, output: 1 } }));
    const warnings: unknown[] = [];
    const client = aiSdkClient(createLanguageModel({ provider: 'anthropic', model: 'claude-test', baseURL: server.baseURL, apiKey: KEY }), {
      onWarning: (w, model) => warnings.push(...w.map((x) => ({ x, model }))),
    });
    await client.complete({ messages: [{ role: 'user', content: 'hi' }], temperature: 0.2 });
    expect(warnings.length).toBeGreaterThan(0);
    expect(JSON.stringify(warnings)).toContain('temperature');
    expect((globalThis as { AI_SDK_LOG_WARNINGS?: unknown }).AI_SDK_LOG_WARNINGS).toBe(false);
  });

  test('Anthropic 529 overloaded is retryable (type LlmOverloaded)', async () => {
    server.enqueue(anthropic.error(529, 'Overloaded'));
    const error = await failureOf(clientFor(anthropic).complete({ messages: [{ role: 'user', content: 'hi' }] }));
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).data['type']).toBe('LlmOverloaded');
  });

  test('Anthropic overloaded_error inside a 200 stream is retryable', async () => {
    const events = anthropicStreamEvents({ text: ['partial'] }).slice(0, 3);
    events.push({ event: 'error', data: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } });
    server.enqueue(sse(events));
    const error = await failureOf(collectStream(clientFor(anthropic).stream!({ messages: [{ role: 'user', content: 'hi' }] })));
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).data['type']).toBe('LlmOverloaded');
  });

  test('a connection refused (nothing listens) is retryable', async () => {
    const closed = await startProviderServer();
    const baseURL = closed.baseURL;
    await closed.close();
    const client = llmClient({ provider: 'openai', model: 'gpt-test', baseURL, apiKey: KEY });
    const error = await failureOf(client.complete({ messages: [{ role: 'user', content: 'hi' }] }));
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).data['type']).toBe('LlmConnectionLost');
  });
});
