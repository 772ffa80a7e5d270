import { describe, expect, test } from 'vitest';
import { aiSdkClient, collectStream, scriptedModel, type LlmStreamPart } from '../../../actors/index.js';
import { Aborted, NonRetryableError } from '../../../src/errors.js';

const lookup = { name: 'lookup', description: 'Look an order up', inputSchema: { type: 'object', properties: { order: { type: 'string' } } } };

const model = scriptedModel({
  name: 'support',
  script: [
    { when: /order (\d+)/, answer: (turn) => ({ toolCalls: [{ name: 'lookup', input: { order: /order (\d+)/.exec(turn.key)?.[1] } }] }) },
    { when: 'tool lookup:', answer: (turn) => `Your order ships ${JSON.parse(turn.key.slice('tool lookup: '.length)).ships}.` },
    { when: 'hello', answer: 'Hello! How can I help?' },
  ],
});

describe('the scripted local model', () => {
  test('answers by the prompt, deterministically, labelled as scripted in its text, model id and the response', async () => {
    const client = aiSdkClient(model);
    const a = await client.complete({ messages: [{ role: 'system', content: 'Be kind.' }, { role: 'user', content: 'hello there' }] });
    const b = await client.complete({ messages: [{ role: 'system', content: 'Be kind.' }, { role: 'user', content: 'hello there' }] });
    expect(a).toEqual(b);
    expect(a).toMatchObject({ text: '[scripted] Hello! How can I help?', stopReason: 'stop', scripted: true, model: 'scripted:support' });
    expect(a.usage?.inputTokens).toBeGreaterThan(0);
    expect(model.provider).toBe('troupe.scripted');
  });

  test('a tool-using conversation: a tool call, then an answer keyed by the tool result', async () => {
    const client = aiSdkClient(model);
    const first = await client.complete({ messages: [{ role: 'user', content: 'where is order 42?' }], tools: [lookup] });
    expect(first.stopReason).toBe('tool-calls');
    expect(first.toolCalls).toEqual([{ id: 'scripted-0-0', name: 'lookup', input: { order: '42' } }]);
    const second = await client.complete({
      messages: [
        { role: 'user', content: 'where is order 42?' },
        { role: 'assistant', content: '', toolCalls: first.toolCalls },
        { role: 'tool', toolCallId: 'scripted-0-0', toolName: 'lookup', content: { ships: 'tomorrow' } },
      ],
      tools: [lookup],
    });
    expect(second.text).toBe('[scripted] Your order ships tomorrow.');
  });

  test('streams word by word, with the same final response as complete', async () => {
    const client = aiSdkClient(model);
    const parts: LlmStreamPart[] = [];
    for await (const part of client.stream!({ messages: [{ role: 'user', content: 'hello' }] })) parts.push(part);
    expect(parts.filter((p) => p.type === 'text-delta').length).toBeGreaterThan(3);
    const streamed = parts.at(-1);
    const completed = await client.complete({ messages: [{ role: 'user', content: 'hello' }] });
    expect(streamed?.type === 'finish' && streamed.response).toMatchObject({ text: completed.text, stopReason: 'stop', scripted: true });
    const toolStream = await collectStream(client.stream!({ messages: [{ role: 'user', content: 'order 7' }], tools: [lookup] }));
    expect(toolStream.toolCalls).toEqual([{ id: 'scripted-0-0', name: 'lookup', input: { order: '7' } }]);
  });

  test('an unmatched prompt is a NonRetryableError naming it; a fallback answers instead; labelText: false for JSON', async () => {
    const error = await aiSdkClient(model).complete({ messages: [{ role: 'user', content: 'what is the weather' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonRetryableError);
    expect((error as Error).message).toContain('what is the weather');
    const json = aiSdkClient(scriptedModel({ script: { sentiment: '{"score":0.2}' }, fallback: 'no idea', labelText: false }));
    expect(JSON.parse((await json.complete({ messages: [{ role: 'user', content: 'sentiment of: meh' }] })).text)).toEqual({ score: 0.2 });
    expect((await json.complete({ messages: [{ role: 'user', content: 'other' }] })).text).toBe('no idea');
  });

  test('an aborted signal is honoured', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(aiSdkClient(model).complete({ messages: [{ role: 'user', content: 'hello' }], signal: controller.signal })).rejects.toBeInstanceOf(Aborted);
  });
});
