/**
 * LLM calls are never paid twice (issue 10), on a real nats-server: an agent journals each model response in the
 * system's KV journal before its turn moves on, so the same run in another process (after a crash, on another node)
 * reads every turn back; the model is asked once per turn in all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LlmClient, LlmRequest } from '../../actors/llm.js';
import { agent, runAgent } from '../../machines/index.js';
import { createSystem } from '../../src/index.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

let server: NatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.cleanup();
});

describe('agent journal on NATS (issue 10)', () => {
  it('a second process running the same agent run pays for no model call the first one made', async () => {
    const requests: LlmRequest[] = [];
    const model: LlmClient = {
      complete: async (request) => {
        requests.push(request);
        const turn = requests.length;
        return turn % 2 === 1
          ? { text: '', toolCalls: [{ id: `c${turn}`, name: 'clock', input: {} }], usage: { inputTokens: 10, outputTokens: 5 } }
          : { text: `answer after ${turn} calls`, usage: { inputTokens: 12, outputTokens: 6 } };
      },
    };
    const { z } = await import('zod');
    const tools = { clock: { input: z.object({}), run: async () => 'noon' } };
    const outputs = [];
    for (const node of ['node-1', 'node-2']) {
      const system = await createSystem({ name: 'journal', nodeId: node, logLevel: 'silent', nats: { servers: server.url } });
      try {
        outputs.push(await runAgent(agent({ model, tools, journal: system.journal() }), { prompt: 'What time is it?', id: 'ticket-1/draft' }));
      } finally {
        await system.shutdown();
      }
    }
    expect(requests).toHaveLength(2); // node-2 read both turns from the journal
    expect(outputs[1]).toEqual(outputs[0]);
    expect(outputs[0]).toMatchObject({ status: 'answered', answer: 'answer after 2 calls', turns: 2 });
  });
});
