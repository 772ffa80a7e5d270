/**
 * A Troupe actor as an agent tool (issue 10): the agent's tool call asks the actor by address and the model gets its
 * reply; arguments the schema refuses never reach the actor; an address nobody runs comes back to the model as a tool
 * error. The model is an in-test LlmClient answering from a script; the actor and the system are real.
 */
import { describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { z } from 'zod';
import { actorTool, TOOL_CALL_EVENT, type ToolCallEvent } from '../../actors/index.js';
import type { LlmClient, LlmRequest, LlmResponse, LlmToolResultMessage } from '../../actors/llm.js';
import { agent, reply, runAgent } from '../../machines/index.js';
import { createSystem, InvalidConfigError } from '../../src/index.js';

function scriptedClient(script: ((request: LlmRequest) => Partial<LlmResponse>)[]): LlmClient & { requests: LlmRequest[] } {
  const requests: LlmRequest[] = [];
  return {
    requests,
    complete: async (request) => {
      requests.push(request);
      return { text: '', ...script[Math.min(requests.length - 1, script.length - 1)]!(request) };
    },
  };
}

/** An orders actor: answers a tool call with the order's status, and keeps every call it received. */
const orders = setup({ types: {} as { context: { calls: ToolCallEvent[] }; events: ToolCallEvent | { type: 'calls' } } }).createMachine({
  context: { calls: [] },
  on: {
    [TOOL_CALL_EVENT]: {
      actions: [
        assign({ calls: ({ context, event }) => [...context.calls, event as ToolCallEvent] }),
        reply(({ event }) => ({ orderId: (event as ToolCallEvent<{ orderId: string }>).input.orderId, status: 'shipped' })),
      ],
    },
    calls: { actions: reply(({ context }) => context.calls) },
  },
});

const toolResults = (request: LlmRequest) => request.messages.filter((m): m is LlmToolResultMessage => m.role === 'tool');

describe('actorTool (issue 10)', () => {
  it("asks the actor at its address with the validated input; the model gets the actor's reply", async () => {
    const system = await createSystem({ name: 'tools', logLevel: 'silent' });
    try {
      system.register('orders', orders);
      system.spawn('orders', { id: 'orders' });
      const lookupOrder = actorTool(system, 'tools/orders', { input: z.object({ orderId: z.string() }), description: 'Looks an order up', name: 'lookupOrder' });
      const model = scriptedClient([
        () => ({ toolCalls: [{ id: 'c1', name: 'lookupOrder', input: { orderId: '42' } }, { id: 'c2', name: 'lookupOrder', input: { orderId: 42 } }] }),
        () => ({ text: 'Order 42 has shipped.' }),
      ]);
      const out = await runAgent(agent({ model, tools: { lookupOrder } }), { prompt: 'Where is order 42?' });
      expect(out).toMatchObject({ status: 'answered', answer: 'Order 42 has shipped.' });
      const [good, refused] = toolResults(model.requests[1]!);
      expect(good).toMatchObject({ toolCallId: 'c1', content: { orderId: '42', status: 'shipped' } });
      expect(refused).toMatchObject({ toolCallId: 'c2', isError: true, content: expect.stringContaining('invalid arguments') });
      // Only the valid call reached the actor, as a tool.call event.
      expect(await system.lookup('tools/orders').ask({ type: 'calls' })).toEqual([{ type: TOOL_CALL_EVENT, tool: 'lookupOrder', input: { orderId: '42' }, callId: 'c1' }]);
      expect(model.requests[0]!.tools).toEqual([expect.objectContaining({ name: 'lookupOrder', description: 'Looks an order up' })]);
    } finally {
      await system.shutdown();
    }
  });

  it('an address nobody runs comes back to the model as a tool error; bad options are refused naming the field', async () => {
    const system = await createSystem({ name: 'tools2', logLevel: 'silent' });
    try {
      const missing = actorTool(system, 'tools2/nobody', { input: z.object({}), timeoutMs: 500, maxAttempts: 1 });
      const model = scriptedClient([() => ({ toolCalls: [{ id: 'c1', name: 'missing', input: {} }] }), () => ({ text: 'sorry' })]);
      expect(await runAgent(agent({ model, tools: { missing } }), { prompt: 'x' })).toMatchObject({ status: 'answered', answer: 'sorry' });
      expect(toolResults(model.requests[1]!)[0]).toMatchObject({ toolCallId: 'c1', isError: true, content: expect.stringContaining('missing failed') });
      expect(() => actorTool(system, 'tools2/x', { input: undefined as never })).toThrow(InvalidConfigError);
      expect(() => actorTool(system, 'tools2/x', { input: z.object({}), timeoutMs: 0 })).toThrow(/actorTool.timeoutMs/);
      expect(() => actorTool(system, 'bad address!', { input: z.object({}) })).toThrow(/address/);
    } finally {
      await system.shutdown();
    }
  });
});
