/**
 * The tools of an MCP server as agent tools (issue 10): a real MCP server (the official SDK, over stdio, in a child
 * process) and the SDK's client. The agent sees the server's tools under a prefix, with their JSON Schemas; a call
 * reaches the server and its answer goes back to the model; an `isError` result goes back as a tool error; arguments
 * that break the server's schema are refused before any call reaches it.
 */
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mcpTools } from '../../actors/index.js';
import type { LlmClient, LlmRequest, LlmToolResultMessage } from '../../actors/llm.js';
import { agent, runAgent } from '../../machines/index.js';
import { InvalidConfigError } from '../../src/index.js';

const SERVER = fileURLToPath(new URL('../fixtures/mcp-server.mjs', import.meta.url));
let client: Client;

beforeAll(async () => {
  client = new Client({ name: 'troupe-test', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [SERVER] }));
});
afterAll(async () => {
  await client?.close();
});

/** A model that asks for the given tool calls, one turn each, then answers with what the tools said. */
function scripted(calls: ReadonlyArray<{ name: string; input: unknown }>) {
  const requests: LlmRequest[] = [];
  const model: LlmClient = {
    complete: async (request) => {
      requests.push(request);
      const next = calls[requests.length - 1];
      if (next) return { text: '', toolCalls: [{ id: `c${requests.length}`, ...next }], usage: { inputTokens: 5, outputTokens: 5 } };
      const results = request.messages.filter((m): m is LlmToolResultMessage => m.role === 'tool');
      return { text: results.map((r) => `${r.isError ? 'ERROR ' : ''}${String(r.content)}`).join(' | '), usage: { inputTokens: 5, outputTokens: 5 } };
    },
  };
  return { model, requests };
}

async function serverCalls(): Promise<Record<string, number>> {
  const result = await client.callTool({ name: 'calls', arguments: {} });
  return JSON.parse((result.content as Array<{ text: string }>)[0]!.text) as Record<string, number>;
}

describe('MCP tools for agents (issue 10)', () => {
  it("lists the server's tools under a prefix, with their schemas sent to the model", async () => {
    const tools = await mcpTools(client, { prefix: 'shop_', include: ['order_status', 'refund'] });
    expect(Object.keys(tools).sort()).toEqual(['shop_order_status', 'shop_refund']);
    const { model, requests } = scripted([]);
    await runAgent(agent({ model, tools }), { prompt: 'hello' });
    const sent = requests[0]!.tools!;
    expect(sent.map((t) => t.name).sort()).toEqual(['shop_order_status', 'shop_refund']);
    expect(sent.find((t) => t.name === 'shop_refund')!.inputSchema).toMatchObject({ type: 'object', properties: { order: { type: 'string' }, amount: { type: 'number' } }, required: ['order', 'amount'] });
    expect(sent.find((t) => t.name === 'shop_order_status')!.description).toBe('The status of an order');
  });

  it("calls reach the server; an isError result and schema-breaking arguments go back to the model as tool errors", async () => {
    const tools = await mcpTools(client, { prefix: 'shop_' });
    const before = await serverCalls();
    const { model } = scripted([
      { name: 'shop_order_status', input: { order: '42' } },
      { name: 'shop_refund', input: { order: '42', amount: 250 } },
      { name: 'shop_refund', input: { order: '42', amount: 'lots' } },
    ]);
    const out = await runAgent(agent({ model, tools }), { prompt: 'Where is order 42, and refund it' });
    expect(out).toMatchObject({ status: 'answered', turns: 4 });
    const parts = (out as { answer: string }).answer.split(' | ');
    expect(parts[0]).toBe('order 42: shipped');
    expect(parts[1]).toMatch(/^ERROR shop_refund failed: MCP tool refund failed: refunds over 100 need a person \(asked 250 on 42\)/);
    expect(parts[2]).toMatch(/^ERROR invalid arguments for shop_refund: amount: /);
    const after = await serverCalls();
    // The refused arguments never reached the server: one status call and one refund call, nothing more.
    expect({ order_status: after['order_status']! - before['order_status']!, refund: after['refund']! - before['refund']! }).toEqual({ order_status: 1, refund: 1 });
  });

  it('refuses a client that is not one, and tool names that collide, naming the field', async () => {
    await expect(mcpTools({} as never)).rejects.toThrow(InvalidConfigError);
    const twice = { listTools: async () => ({ tools: [{ name: 'a.b', inputSchema: { type: 'object' } }, { name: 'a_b', inputSchema: { type: 'object' } }] }), callTool: async () => ({}) };
    await expect(mcpTools(twice)).rejects.toThrow(/two tools map to the name a_b/);
  });
});
