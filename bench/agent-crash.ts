/**
 * `agent.repaid_calls_after_crash` (issue 10): 50 durable workflows, each one step running a two-turn tool-using agent
 * through the real AI SDK OpenAI provider against a local provider server (node:http, 20-100 ms per answer), with the
 * system's journal. The worker process is killed -9 once 35 model answers are journaled; a second worker recovers
 * the runs and finishes them. Per model call (workflow, turn), the server counts requests:
 *
 *   repaid     calls whose answer was journaled before the kill and were requested again (goal 0)
 *   in flight  calls requested before the kill but not journaled by then, requested again (necessarily; apart)
 *
 * "Journaled" is the worker's own line after the journal's put resolved, read from its stdout to the end after the
 * kill, so every answer the dead process had kept is known. `node dist/bench/agent-crash.js --worker <nats> <base>`
 * is the worker.
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { llmClient } from '../actors/index.js';
import type { LlmResponse } from '../actors/llm.js';
import { agent, runAgent, step, workflow } from '../machines/index.js';
import { createSystem } from '../src/index.js';
import { startServer } from './nats-server.js';

const WORKFLOWS = 50;
const KILL_AFTER_JOURNALED = 35;
const SYSTEM = 'benchjrnl';

/** `wf-7#2`: the workflow named in the prompt, and the turn (assistant messages so far + 1). */
function callKey(body: { messages?: Array<{ role: string; content?: unknown }> }): string {
  const messages = body.messages ?? [];
  const workflowId = /Ticket (wf-\d+)/.exec(JSON.stringify(messages[0]?.content ?? ''))?.[1] ?? 'unknown';
  return `${workflowId}#${messages.filter((m) => m.role === 'assistant').length + 1}`;
}

async function startProvider(): Promise<{ baseURL: string; requests: Map<string, number>; close(): Promise<void> }> {
  const requests = new Map<string, number>();
  const server = createServer((req: IncomingMessage, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      const key = callKey(JSON.parse(raw || '{}') as { messages?: Array<{ role: string }> });
      requests.set(key, (requests.get(key) ?? 0) + 1);
      const turn = Number(key.split('#')[1]);
      const message = turn === 1
        ? { role: 'assistant', content: null, tool_calls: [{ id: `call-${key}`, type: 'function', function: { name: 'lookup', arguments: '{"order":"42"}' } }] }
        : { role: 'assistant', content: 'Order 42 has shipped.' };
      const delay = 20 + ((key.length * 37 + turn * 11 + Number(/\d+/.exec(key)?.[0] ?? 0) * 13) % 80);
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
          id: `chatcmpl-${key}`, object: 'chat.completion', created: 1_700_000_000, model: 'gpt-bench',
          choices: [{ index: 0, message, finish_reason: turn === 1 ? 'tool_calls' : 'stop' }],
          usage: { prompt_tokens: 30, completion_tokens: 8, total_tokens: 38 },
        }));
      }, delay);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    requests,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

/** The worker: recovers or spawns the runs, prints `J <key>` after each journal put and `DONE` once all are stored. */
async function worker(url: string, baseURL: string): Promise<void> {
  const system = await createSystem({ name: SYSTEM, logLevel: 'silent', nats: { servers: url } });
  const journal = system.journal<LlmResponse>();
  const drafter = agent({
    model: llmClient({ provider: 'openai', baseURL, model: 'gpt-bench', apiKey: 'sk-bench' }),
    journal: {
      get: (key) => journal.get(key),
      put: async (key, response) => {
        await journal.put(key, response);
        process.stdout.write(`J ${key}\n`);
      },
    },
    tools: { lookup: { input: z.object({ order: z.string() }), run: async ({ order }: { order: string }) => (await new Promise((r) => setTimeout(r, 30)), { order, status: 'shipped' }) } },
  });
  system.register('reply', workflow('reply', {
    steps: [step('draft', ({ workflowId, idempotencyKey, signal }) => runAgent(drafter, { prompt: `Ticket ${workflowId}: where is order 42?`, id: idempotencyKey }, signal))],
  }), { version: 1 });
  const restored = await system.recover();
  const ids = Array.from({ length: WORKFLOWS }, (_, i) => `wf-${i}`);
  if (restored.length === 0) for (const id of ids) system.spawn('reply', { id, durable: true });
  await Promise.all(ids.map((id) => system.result(`${SYSTEM}/${id}`, { timeoutMs: 60_000 })));
  process.stdout.write('DONE\n');
  await system.shutdown();
}

function startWorker(url: string, baseURL: string) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--worker', url, baseURL], { stdio: ['ignore', 'pipe', 'inherit'] });
  const journaled = new Set<string>();
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (const match of out.matchAll(/^J (wf-\d+)\/draft\/turn-(\d+)$/gm)) journaled.add(`${match[1]}#${match[2]}`);
  });
  const closed = new Promise<void>((resolve) => child.stdout!.once('close', () => resolve()));
  return { child, journaled, done: () => out.includes('DONE'), closed };
}

export interface RepaidCalls {
  readonly repaid: number;
  readonly inflightRepeated: number;
  readonly journaledBeforeKill: number;
  readonly calls: number;
}

export async function measureRepaidCalls(): Promise<RepaidCalls> {
  const nats = await startServer();
  const provider = await startProvider();
  try {
    const first = startWorker(nats.url, provider.baseURL);
    for (let i = 0; first.journaled.size < KILL_AFTER_JOURNALED; i++) {
      if (i > 6_000) throw new Error('agent-crash: the first worker journaled too little within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    first.child.kill('SIGKILL');
    await first.closed; // every line the dead process wrote is read
    const requestedBeforeKill = new Set(provider.requests.keys());
    const second = startWorker(nats.url, provider.baseURL);
    for (let i = 0; !second.done(); i++) {
      if (i > 6_000) throw new Error('agent-crash: the recovered worker did not finish within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await second.closed;
    const again = (key: string) => (provider.requests.get(key) ?? 0) > 1;
    return {
      repaid: [...first.journaled].filter(again).length,
      inflightRepeated: [...requestedBeforeKill].filter((key) => !first.journaled.has(key) && again(key)).length,
      journaledBeforeKill: first.journaled.size,
      calls: provider.requests.size,
    };
  } finally {
    await provider.close();
    await nats.stop();
  }
}

if (process.argv[2] === '--worker') void worker(process.argv[3]!, process.argv[4]!);
