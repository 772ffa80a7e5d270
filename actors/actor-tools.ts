/**
 * A Troupe actor as an agent tool (issue 10): `actorTool(system, 'support/orders', { input })` gives `agent({ tools })`
 * a tool whose call asks the actor at that address — on this node or any other — with `{ type: 'tool.call', tool,
 * input, callId }` and hands the model its reply. The actor answers with `reply(...)` like any ask; it can be
 * supervised, durable, rate limited or behind a breaker, which a plain function tool cannot.
 *
 * The input is validated against the schema before the actor is asked (a refused call never reaches it). An ask that
 * times out or finds the actor restarting is retried by the agent's tool policy; one the actor refuses goes back to
 * the model as a tool error.
 *
 * @example
 * system.register('orders', setup({}).createMachine({ on: { 'tool.call': { actions: reply(({ event }) => orders.get(event.input.orderId)) } } }));
 * system.spawn('orders', { id: 'orders' });
 * const support = agent({ model, tools: { lookupOrder: actorTool(system, 'support/orders', { input: z.object({ orderId: z.string() }) }) } });
 */
import type { ZodType } from 'zod';
import type { AgentTool } from '../machines/agent.js';
import { InvalidConfigError } from '../src/errors.js';

/** The event an actor tool's actor is asked with. */
export const TOOL_CALL_EVENT = 'tool.call';

export interface ToolCallEvent<TInput = unknown> {
  readonly type: typeof TOOL_CALL_EVENT;
  /** The tool's name as the actor tool was created (`options.name`, else the address). */
  readonly tool: string;
  readonly input: TInput;
  /** The model's id of the call: one per call, the same across its retries. */
  readonly callId: string;
}

/** What `actorTool` needs of the system: an ask by address (a `TroupeSystem` has it). */
export interface ActorLookup {
  lookup(address: string): { ask(event: ToolCallEvent, options?: { timeoutMs?: number }): Promise<unknown> };
}

export interface ActorToolOptions<TInput> {
  readonly input: ZodType<TInput>;
  readonly description?: string;
  /** Told to the actor as `tool` (default: the address). */
  readonly name?: string;
  /** Per ask, ms (default 30,000). */
  readonly timeoutMs?: number;
  /** Attempts for a transient failure (default 3). */
  readonly maxAttempts?: number;
}

export function actorTool<TInput>(system: ActorLookup, address: string, options: ActorToolOptions<TInput>): AgentTool<TInput> {
  if (typeof system?.lookup !== 'function') throw new InvalidConfigError('actorTool.system', 'must be a Troupe system (lookup)');
  if (typeof address !== 'string' || address.length === 0) throw new InvalidConfigError('actorTool.address', 'must be an actor address');
  if (typeof options?.input?.safeParse !== 'function') throw new InvalidConfigError('actorTool.input', 'must be a zod schema');
  const timeoutMs = options.timeoutMs ?? 30_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new InvalidConfigError('actorTool.timeoutMs', 'must be an integer >= 1');
  const ref = system.lookup(address); // checks the address now, not at the first call
  const tool = options.name ?? address;
  return {
    ...(options.description === undefined ? {} : { description: options.description }),
    input: options.input,
    timeoutMs,
    ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
    run: (input, call) => ref.ask({ type: TOOL_CALL_EVENT, tool, input, callId: call.callId }, { timeoutMs }),
  };
}
