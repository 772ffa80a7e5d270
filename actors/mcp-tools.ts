/**
 * The tools of any MCP server as agent tools (issue 10): `mcpTools(client)` lists a connected Model Context Protocol
 * client's tools (paging through them) and returns them in `agent({ tools })`'s shape — each with its server's JSON
 * Schema as the zod schema the agent validates against, and a `run` that calls the tool with the attempt's signal.
 *
 * Troupe does not depend on the MCP SDK: pass a `Client` of `@modelcontextprotocol/sdk` (any transport: stdio,
 * streamable HTTP), or anything with its `listTools` and `callTool`. A tool result with `isError` goes back to the
 * model as a non-retryable tool error (it may correct its call); a lost connection or a timeout is retryable, so the
 * agent's tool retry policy applies.
 *
 * @example
 * const client = new Client({ name: 'support-agent', version: '1.0.0' });
 * await client.connect(new StdioClientTransport({ command: 'crm-mcp-server' }));
 * const drafter = agent({ model, tools: { ...(await mcpTools(client, { prefix: 'crm_' })), ...ownTools } });
 */
import { z, type ZodType } from 'zod';
import type { AnyAgentTool } from '../machines/agent.js';
import { InvalidConfigError, NonRetryableError, RetryableError } from '../src/errors.js';

/** What `mcpTools` needs of an MCP client (the SDK's `Client` has it). */
export interface McpClientLike {
  listTools(params?: { cursor?: string }, options?: { signal?: AbortSignal }): Promise<{
    readonly tools: ReadonlyArray<{ readonly name: string; readonly description?: string; readonly inputSchema: Record<string, unknown> }>;
    readonly nextCursor?: string;
  }>;
  callTool(params: { name: string; arguments?: Record<string, unknown> }, resultSchema?: undefined, options?: { signal?: AbortSignal; timeout?: number }): Promise<Record<string, unknown>>;
}

export interface McpToolsOptions {
  /** Prepended to every tool name (`crm_`), to keep two servers' tools apart. */
  readonly prefix?: string;
  /** Only these tools (their server names). */
  readonly include?: readonly string[];
  /** Per call, ms (default 30,000). */
  readonly timeoutMs?: number;
  /** Attempts for a transient failure (default 3). */
  readonly maxAttempts?: number;
}

/** JSON-RPC codes of the MCP SDK's own transient failures: the connection closed, the request timed out. */
const TRANSIENT_CODES = new Set([-32000, -32001]);
const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export async function mcpTools(client: McpClientLike, options: McpToolsOptions = {}): Promise<Record<string, AnyAgentTool>> {
  if (typeof client?.listTools !== 'function' || typeof client.callTool !== 'function') throw new InvalidConfigError('mcpTools.client', 'must be a connected MCP client (listTools, callTool)');
  const listed: Array<{ name: string; description?: string; inputSchema: Record<string, unknown> }> = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const result = await client.listTools(cursor === undefined ? undefined : { cursor });
    listed.push(...result.tools);
    cursor = result.nextCursor;
    if (cursor === undefined) break;
  }
  const tools: Record<string, AnyAgentTool> = {};
  for (const tool of listed) {
    if (options.include !== undefined && !options.include.includes(tool.name)) continue;
    const name = `${options.prefix ?? ''}${tool.name}`.replace(/[^A-Za-z0-9_-]/g, '_');
    if (!TOOL_NAME.test(name)) throw new InvalidConfigError(`mcpTools.${tool.name}`, 'its name (with the prefix) is not 1 to 64 characters of [A-Za-z0-9_-]');
    if (name in tools) throw new InvalidConfigError(`mcpTools.${tool.name}`, `two tools map to the name ${name}: use a prefix or include`);
    let input: ZodType<unknown>;
    try {
      input = z.fromJSONSchema(tool.inputSchema as Parameters<typeof z.fromJSONSchema>[0]) as ZodType<unknown>;
    } catch (error) {
      throw new InvalidConfigError(`mcpTools.${tool.name}`, `its input schema cannot be read: ${(error as Error).message}`);
    }
    const timeout = options.timeoutMs ?? 30_000;
    tools[name] = {
      ...(tool.description === undefined ? {} : { description: tool.description }),
      input,
      timeoutMs: timeout,
      ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
      run: async (args: never, call) => {
        let result: Record<string, unknown>;
        try {
          result = await client.callTool({ name: tool.name, arguments: args as Record<string, unknown> }, undefined, { signal: call.signal, timeout });
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          const message = `MCP tool ${tool.name}: ${(error as Error).message}`;
          if (typeof code === 'number' && TRANSIENT_CODES.has(code)) throw new RetryableError(message, { cause: error, type: 'McpUnavailable' });
          throw new NonRetryableError(message, { cause: error, type: 'McpCallFailed' });
        }
        const text = textOf(result['content']);
        if (result['isError'] === true) throw new NonRetryableError(`MCP tool ${tool.name} failed: ${text || 'no detail'}`, { type: 'McpToolError' });
        return result['structuredContent'] ?? text;
      },
    };
  }
  return tools;
}

/** The text parts of an MCP tool result, joined; other parts (images, resources) are named by their type. */
function textOf(content: unknown): string {
  if (!Array.isArray(content)) return '';
  return content.map((part: { type?: unknown; text?: unknown }) => (part?.type === 'text' && typeof part.text === 'string' ? part.text : `[${String(part?.type)}]`)).join('\n');
}
