/**
 * LLM calls are never paid twice (issue 10), across a kill -9: a durable workflow's step runs a tool-using agent
 * through the real AI SDK OpenAI provider, pointed at a local provider server that counts requests. The first
 * process gets the model's first answer (a tool call), journals it, and is killed -9 inside the tool, before the step
 * is recorded finished. A second process recovers the workflow and re-runs the step: the agent reads the first
 * answer from the journal and asks the provider only for the second. The server saw exactly one request per turn.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../fixtures/chaos.js';
import { openaiCompletion, startProviderServer, type ProviderServer } from '../fixtures/llm-provider-server.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

const WORKER = fileURLToPath(new URL('../fixtures/journal-worker.mjs', import.meta.url));
let nats: NatsServer;
let provider: ProviderServer;
const children: ChildProcess[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  provider = await startProviderServer();
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await provider?.close();
  await nats?.cleanup();
});

function worker(mode: 'hold' | 'go') {
  const child = spawn(process.execPath, [WORKER, nats.url, provider.baseURL, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => void (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => void (out += chunk.toString()));
  return { child, out: () => out, exited: new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code))) };
}

describe('agent journal across kill -9 (issue 10)', () => {
  it('the recovered step reads the journaled model answer: the provider is asked once per turn in all', async () => {
    provider.enqueue(
      openaiCompletion({ toolCalls: [{ id: 'call-1', name: 'lookup', input: { order: '42' } }], usage: { input: 20, output: 8 } }),
      openaiCompletion({ text: 'Order 42 has shipped.', usage: { input: 40, output: 6 } }),
    );
    const first = worker('hold');
    await until(20_000, 'the first process is inside the tool', () => first.out().includes('HOLDING') || undefined);
    expect(provider.requests).toHaveLength(1);
    first.child.kill('SIGKILL');
    await first.exited;

    const second = worker('go');
    // TRACE is printed after DONE (the durable trace is read once the result is in): wait for both.
    await until(30_000, `the recovered workflow finishes and its trace is read:\n${second.out()}`, () => second.out().includes('TRACE') || undefined);
    expect(second.out()).toContain('STARTED 1'); // recovered, not spawned again
    const output = JSON.parse(/DONE (.*)/.exec(second.out())![1]!) as { status: string; results: { draft: { status: string; answer: string; turns: number; usage: unknown } } };
    expect(output).toMatchObject({ status: 'completed', results: { draft: { status: 'answered', answer: 'Order 42 has shipped.', turns: 2 } } });
    // Usage is the provider's, summed over both turns (the first read back from the journal).
    expect(output.results.draft.usage).toEqual({ inputTokens: 60, outputTokens: 14 });
    // One request per turn: the first turn's answer was never asked for again.
    expect(provider.requests).toHaveLength(2);
    const roles = (i: number) => ((provider.requests[i]!.body['messages'] as Array<{ role: string }>) ?? []).map((m) => m.role);
    expect(roles(0)).toEqual(['user']);
    expect(roles(1)).toEqual(['user', 'assistant', 'tool']);
    // The durable trace holds the recovered attempt's turns (the first read back from the journal), then its end.
    const moves = JSON.parse(/TRACE (.*)/.exec(second.out())![1]!) as string[];
    expect(moves.slice(-4)).toEqual(['1:thinking>acting:tool-calls', '1:acting>thinking:tool-results', '1:thinking>answered:answered', '1:running>done:succeeded']);
    expect(await second.exited).toBe(0);
  }, 90_000);
});
