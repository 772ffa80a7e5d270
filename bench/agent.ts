/**
 * Group `agent` (issue 10): what the agent statechart costs per turn.
 *
 *   agent.turn_overhead_us   (agent statechart time - direct loop time) / turns, for the same local model and tool:
 *                            each run is two turns (a tool call, then the answer); the direct loop calls the model,
 *                            validates and runs the tool, and calls the model again (goal <= 200 µs)
 *   agent.repaid_calls_after_crash  model calls made again after kill -9 and recovery of 50 in-flight agent
 *                            workflows, of those whose answer was journaled before the kill (goal 0; agent-crash.ts)
 *   agent.inflight_calls_repeated   calls in flight at the kill, made again (necessarily; reported apart)
 *
 * Method per DESIGN (Benchmarks): warm-up, rounds alternating baseline and candidate, medians.
 */
import { z } from 'zod';
import type { LlmClient, LlmMessage, LlmRequest, LlmResponse, LlmToolResultMessage } from '../actors/llm.js';
import { agent, runAgent } from '../machines/index.js';
import { measureRepaidCalls } from './agent-crash.js';
import { median, nowMs, paired, report } from './harness.js';

/** The runs of agent-crash.ts (each two turns). */
const WORKFLOWS_AFTER_CRASH = 50;

const RUNS = 2_000;
const TURNS_PER_RUN = 2;

/** A local model: a tool call on the first turn, the answer once a tool result is in the conversation. */
const model: LlmClient = {
  complete: async (request: LlmRequest): Promise<LlmResponse> => {
    const last = request.messages.at(-1) as { role: string };
    if (last.role === 'tool') return { text: 'Order 42 has shipped.', usage: { inputTokens: 120, outputTokens: 12 }, stopReason: 'stop' };
    return { text: '', toolCalls: [{ id: 'c1', name: 'lookupOrder', input: { orderId: '42' } }], usage: { inputTokens: 100, outputTokens: 20 }, stopReason: 'tool-calls' };
  },
};
const orderInput = z.object({ orderId: z.string() });
const lookupOrder = { input: orderInput, run: async ({ orderId }: { orderId: string }) => ({ orderId, status: 'shipped' }) };

/** The same two turns without the statechart. */
async function direct(prompt: string): Promise<string> {
  const messages: (LlmMessage | LlmToolResultMessage)[] = [{ role: 'user', content: prompt }];
  for (;;) {
    const response = await model.complete({ messages: messages as LlmMessage[] });
    if (!response.toolCalls?.length) return response.text;
    messages.push({ role: 'assistant', content: response.text, toolCalls: response.toolCalls });
    for (const call of response.toolCalls) {
      const parsed = orderInput.parse(call.input);
      messages.push({ role: 'tool', toolCallId: call.id, toolName: call.name, content: await lookupOrder.run(parsed) });
    }
  }
}

export async function run(): Promise<void> {
  const machine = agent({ model, tools: { lookupOrder } });
  const timed = async (one: (i: number) => Promise<unknown>) => {
    const start = nowMs();
    for (let i = 0; i < RUNS; i++) await one(i);
    return nowMs() - start;
  };
  const result = await paired({
    warmup: 1,
    rounds: 5,
    baseline: () => timed((i) => direct(`order ${i}`)),
    candidate: () => timed((i) => runAgent(machine, { prompt: `order ${i}` })),
  });
  const overheadUs = ((median(result.candidate) - median(result.baseline)) / (RUNS * TURNS_PER_RUN)) * 1_000;
  report('agent', 'turn_overhead_us', overheadUs, 'us');
  report('agent', 'direct_turn_us', (median(result.baseline) / (RUNS * TURNS_PER_RUN)) * 1_000, 'us');

  const crash = await measureRepaidCalls();
  if (crash.calls !== WORKFLOWS_AFTER_CRASH * TURNS_PER_RUN) console.error(`agent: the provider saw ${crash.calls} distinct calls, expected ${WORKFLOWS_AFTER_CRASH * TURNS_PER_RUN}`);
  console.error(`agent: kill -9 after ${crash.journaledBeforeKill} journaled answers; ${crash.inflightRepeated} call(s) in flight at the kill were made again`);
  report('agent', 'repaid_calls_after_crash', crash.repaid, 'calls');
  report('agent', 'inflight_calls_repeated', crash.inflightRepeated, 'calls');
}
