/**
 * A tool-using agent as a statechart (issue 10): `thinking` (one model call through Troupe's `LlmClient`) ->
 * `acting` (the tool calls the model asked for, in parallel, each validated against its zod schema, retried when
 * it fails transiently, bounded by its timeout) -> `thinking` again, until the model answers (`verifying`, when a
 * verifier gates the answer, then `answered`), or the turns run out or the token budget is spent (`escalated`, with
 * the reason: the machine hands the decision to a person or to its parent rather than guessing).
 *
 * A tool's bad arguments or failure go back to the model as an error result (it can correct itself); only the model
 * call's own failure fails the agent (the actor's supervisor, or the workflow step hosting it, decides what next).
 * Each turn is a state the inspector shows, and the conversation is the actor's context, so a durable agent resumes
 * from its last completed turn.
 *
 * @example
 * const support = agent({ model: aiSdkClient({ model }), system: 'You answer customers.', tools: { lookupOrder }, maxTurns: 6 });
 * system.spawn(system.register('support-agent', support), { id: 'a1', input: { prompt: 'Where is order 42?' } });
 */
import { inModelSpan, inToolSpan } from '../src/observability/genai-spans.js';
import { assign, createActor, fromPromise, setup, toPromise } from 'xstate';
import { toJSONSchema, type ZodType } from 'zod';
import type { LlmClient, LlmMessage, LlmResponse, LlmToolCall, LlmToolDefinition, LlmToolResultMessage, LlmUsage } from '../actors/llm.js';
import { InvalidConfigError, isRetryable, toPlainError } from '../src/errors.js';
import type { AttemptNote } from './definition.js';
import { addUsage } from './trace.js';

export const DEFAULT_AGENT_MAX_TURNS = 8;
export const DEFAULT_AGENT_TOKEN_BUDGET = 50_000;

/** What a tool's run is told about the call. */
export interface AgentToolCall {
  readonly callId: string;
  readonly attempt: number;
  /** Aborted at the attempt's timeout, or when the agent stops. */
  readonly signal: AbortSignal;
}

/** A tool the model may call: a plain function of its validated input. */
export interface AgentTool<TInput> {
  readonly description?: string;
  /** The input's schema (zod): sent to the model as JSON Schema, and checked before the tool runs. */
  readonly input: ZodType<TInput>;
  readonly run: (input: TInput, call: AgentToolCall) => Promise<unknown> | unknown;
  /** Attempts for a transient failure (default 3); a non-retryable one goes back to the model at once. */
  readonly maxAttempts?: number;
  /** Per attempt, ms (default 30,000). */
  readonly timeoutMs?: number;
}

/** Any tool, whatever its input type (a record of tools holds several): `run` takes what `input` validated. */
export type AnyAgentTool = Omit<AgentTool<unknown>, 'run'> & { readonly run: (input: never, call: AgentToolCall) => Promise<unknown> | unknown };

export interface AgentVerdict {
  readonly pass: boolean;
  readonly reason?: string;
}

/**
 * Where an agent keeps each model response before acting on it (`system.journal()` gives a durable one): a run
 * with the same `id` — the same agent after a crash, a step re-run — reads a turn's response back instead of
 * calling (and paying for) the model again.
 */
export interface AgentJournal {
  get(key: string): Promise<LlmResponse | undefined>;
  put(key: string, response: LlmResponse): Promise<void>;
}

export interface AgentOptions {
  readonly model: LlmClient;
  /** Model responses by turn, under the run's `input.id`: never paid twice (see AgentJournal). */
  readonly journal?: AgentJournal;
  readonly system?: string;
  readonly tools?: Readonly<Record<string, AnyAgentTool>>;
  /** Model calls before the agent escalates instead of answering (default 8). */
  readonly maxTurns?: number;
  /** Input plus output tokens, as the provider reports them, before it escalates (default 50,000). */
  readonly tokenBudget?: number;
  /** Gates the final answer; a failing verdict is told to the model once per turn left, then escalates. */
  readonly verify?: (answer: string) => Promise<AgentVerdict> | AgentVerdict;
}

export interface AgentInput {
  readonly prompt: string;
  /** The run's stable identity (a step's idempotency key, the actor's address): keys its journal entries. */
  readonly id?: string;
}

export type AgentOutput =
  | { readonly status: 'answered'; readonly answer: string; readonly turns: number; readonly usage: LlmUsage }
  | { readonly status: 'escalated'; readonly reason: 'max-turns' | 'token-budget' | 'verify-failed'; readonly detail: string; readonly lastAnswer?: string; readonly turns: number; readonly usage: LlmUsage };

export interface AgentContext {
  readonly id: string | undefined;
  readonly messages: readonly (LlmMessage | LlmToolResultMessage)[];
  readonly turns: number;
  readonly usage: LlmUsage;
  readonly pending: readonly LlmToolCall[];
  readonly answer: string | undefined;
  readonly verdict: AgentVerdict | undefined;
  readonly escalation: { readonly reason: 'max-turns' | 'token-budget' | 'verify-failed'; readonly detail: string } | undefined;
}

type AgentTools = Readonly<Record<string, AnyAgentTool>>;

/** Runs one tool call: validated, retried while transient, each attempt bounded; the result message either way. */
async function runTool(tools: AgentTools, call: LlmToolCall, signal: AbortSignal): Promise<LlmToolResultMessage> {
  const base = { role: 'tool' as const, toolCallId: call.id, toolName: call.name };
  const tool = tools[call.name];
  if (tool === undefined) return { ...base, content: `unknown tool ${call.name}; the tools are ${Object.keys(tools).join(', ') || 'none'}`, isError: true };
  const parsed = tool.input.safeParse(call.input);
  if (!parsed.success) return { ...base, content: `invalid arguments for ${call.name}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ')}`, isError: true };
  const attempts = tool.maxAttempts ?? 3;
  let last: unknown;
  for (let attempt = 1; attempt <= attempts && !signal.aborted; attempt++) {
    const controller = new AbortController();
    const abort = () => controller.abort(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeoutMs = tool.timeoutMs ?? 30_000;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          controller.abort();
          reject(Object.assign(new Error(`${call.name} timed out after ${timeoutMs} ms`), { name: 'TimeoutError' }));
        }, timeoutMs);
      });
      const content = await Promise.race([Promise.resolve(tool.run(parsed.data as never, { callId: call.id, attempt, signal: controller.signal })), timeout]);
      return { ...base, content: content === undefined ? null : content };
    } catch (error) {
      last = error;
      if (!isRetryable(error)) break;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
    }
  }
  return { ...base, content: `${call.name} failed: ${toPlainError(last).message}`, isError: true };
}

const spent = (u: LlmUsage) => u.inputTokens + u.outputTokens;

/** Compiles the options to an XState machine (input `{ prompt }`, output `AgentOutput`). */
export function agent(options: AgentOptions) {
  const maxTurns = options.maxTurns ?? DEFAULT_AGENT_MAX_TURNS;
  const tokenBudget = options.tokenBudget ?? DEFAULT_AGENT_TOKEN_BUDGET;
  const tools: AgentTools = options.tools ?? {};
  if (typeof options.model?.complete !== 'function') throw new InvalidConfigError('agent.model', 'must be an LlmClient (see aiSdkClient)');
  if (!Number.isInteger(maxTurns) || maxTurns < 1) throw new InvalidConfigError('agent.maxTurns', 'must be an integer >= 1');
  if (!Number.isInteger(tokenBudget) || tokenBudget < 1) throw new InvalidConfigError('agent.tokenBudget', 'must be an integer >= 1');
  for (const [name, tool] of Object.entries(tools)) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new InvalidConfigError(`agent.tools.${name}`, 'a tool name is 1 to 64 characters of [A-Za-z0-9_-]');
    if (typeof tool?.run !== 'function' || typeof tool.input?.safeParse !== 'function') throw new InvalidConfigError(`agent.tools.${name}`, 'needs run() and an input zod schema');
  }
  const definitions: LlmToolDefinition[] = Object.entries(tools).map(([name, tool]) => ({
    name, ...(tool.description ? { description: tool.description } : {}), inputSchema: toJSONSchema(tool.input) as Record<string, unknown>,
  }));

  return setup({
    types: {} as { context: AgentContext; input: AgentInput; output: AgentOutput },
    actors: {
      think: fromPromise<LlmResponse, { messages: AgentContext['messages']; key: string | undefined }>(async ({ input, signal }) => {
        const journal = input.key === undefined ? undefined : options.journal;
        return inModelSpan({ provider: options.model.provider, model: options.model.modelId }, async () => {
          const kept = await journal?.get(input.key!);
          if (kept !== undefined) return { answer: kept, journaled: true };
          const response = await options.model.complete({ messages: input.messages as LlmMessage[], ...(definitions.length > 0 ? { tools: definitions } : {}), signal });
          await journal?.put(input.key!, response); // kept before the turn moves on: a crash after this pays nothing again
          return { answer: response, journaled: false };
        });
      }),
      act: fromPromise<LlmToolResultMessage[], { calls: readonly LlmToolCall[] }>(({ input, signal }) => Promise.all(input.calls.map((call) => inToolSpan(call.name, call.id, () => runTool(tools, call, signal))))),
      verify: fromPromise<AgentVerdict, { answer: string }>(async ({ input }) => options.verify!(input.answer)),
    },
    guards: {
      wantsTools: ({ event }) => ((event as unknown as { output: LlmResponse }).output.toolCalls?.length ?? 0) > 0,
      overBudget: ({ context }) => spent(context.usage) >= tokenBudget,
      outOfTurns: ({ context }) => context.turns >= maxTurns,
      hasVerifier: () => options.verify !== undefined,
      passed: ({ event }) => (event as unknown as { output: AgentVerdict }).output.pass,
    },
  }).createMachine({
    id: 'agent',
    context: ({ input }) => {
      if (typeof input?.prompt !== 'string' || input.prompt.length === 0) throw new InvalidConfigError('agent input.prompt', 'must be a non-empty string');
      const messages: LlmMessage[] = [...(options.system ? [{ role: 'system' as const, content: options.system }] : []), { role: 'user', content: input.prompt }];
      if (input.id !== undefined && (typeof input.id !== 'string' || !/^[A-Za-z0-9_\-/.]{1,200}$/.test(input.id))) throw new InvalidConfigError('agent input.id', 'must be 1 to 200 characters of [A-Za-z0-9_-/.]');
      return { id: input.id, messages, turns: 0, usage: { inputTokens: 0, outputTokens: 0 }, pending: [], answer: undefined, verdict: undefined, escalation: undefined };
    },
    initial: 'thinking',
    states: {
      thinking: {
        invoke: {
          src: 'think',
          input: ({ context }) => ({ messages: context.messages, key: context.id === undefined ? undefined : `${context.id}/turn-${context.turns + 1}` }),
          onDone: [
            {
              guard: 'wantsTools',
              target: 'checking',
              actions: assign(({ context, event }) => ({
                turns: context.turns + 1,
                usage: addUsage(context.usage, event.output.usage),
                pending: event.output.toolCalls ?? [],
                messages: [...context.messages, { role: 'assistant' as const, content: event.output.text, toolCalls: event.output.toolCalls ?? [] }],
              })),
            },
            {
              target: 'answering',
              actions: assign(({ context, event }) => ({
                turns: context.turns + 1,
                usage: addUsage(context.usage, event.output.usage),
                answer: event.output.text,
                messages: [...context.messages, { role: 'assistant' as const, content: event.output.text }],
              })),
            },
          ],
        },
      },
      /** Before acting on tool calls: the budget and the turns left. */
      checking: {
        always: [
          { guard: 'overBudget', target: 'escalated', actions: assign(({ context }) => ({ escalation: { reason: 'token-budget' as const, detail: `${spent(context.usage)} of ${tokenBudget} tokens spent` } })) },
          { guard: 'outOfTurns', target: 'escalated', actions: assign(() => ({ escalation: { reason: 'max-turns' as const, detail: `no answer after ${maxTurns} turns` } })) },
          { target: 'acting' },
        ],
      },
      acting: {
        invoke: {
          src: 'act',
          input: ({ context }) => ({ calls: context.pending }),
          onDone: { target: 'thinking', actions: assign(({ context, event }) => ({ pending: [], messages: [...context.messages, ...event.output] })) },
        },
      },
      answering: {
        always: [{ guard: 'hasVerifier', target: 'verifying' }, { target: 'answered' }],
      },
      verifying: {
        invoke: {
          src: 'verify',
          input: ({ context }) => ({ answer: context.answer ?? '' }),
          onDone: [
            { guard: 'passed', target: 'answered', actions: assign(({ event }) => ({ verdict: event.output })) },
            {
              target: 'rejected',
              actions: assign(({ context, event }) => ({
                verdict: event.output,
                messages: [...context.messages, { role: 'user' as const, content: `The answer was rejected: ${event.output.reason ?? 'it did not pass the check'}. Answer again.` }],
              })),
            },
          ],
        },
      },
      /** A rejected answer: another turn when one is left, else escalate. */
      rejected: {
        always: [
          { guard: 'outOfTurns', target: 'escalated', actions: assign(({ context }) => ({ escalation: { reason: 'verify-failed' as const, detail: context.verdict?.reason ?? 'the answer did not pass the check' } })) },
          { guard: 'overBudget', target: 'escalated', actions: assign(({ context }) => ({ escalation: { reason: 'token-budget' as const, detail: `${spent(context.usage)} of ${tokenBudget} tokens spent` } })) },
          { target: 'thinking' },
        ],
      },
      answered: { type: 'final' },
      escalated: { type: 'final' },
    },
    output: ({ context }): AgentOutput =>
      context.escalation === undefined
        ? { status: 'answered', answer: context.answer ?? '', turns: context.turns, usage: context.usage }
        : { status: 'escalated', reason: context.escalation.reason, detail: context.escalation.detail, ...(context.answer === undefined ? {} : { lastAnswer: context.answer }), turns: context.turns, usage: context.usage },
  });
}

/** How `runAgent` runs: the signal that stops it, and where its turns are recorded. */
export interface AgentRunOptions {
  /** Stops the agent: its model call and tools are aborted. */
  readonly signal?: AbortSignal;
  /** Receives each move between the agent's states (a workflow step's `note` puts them in the trace). */
  readonly note?: (note: AttemptNote) => void;
}

/**
 * Runs an agent to its end outside a Troupe actor — inside a workflow step, for instance — and resolves with its
 * output. Given a step's attempt args (they carry `signal` and `note`), the step's signal stops it and each of its
 * turns is an entry of the workflow's trace: `thinking -> acting` with the tools asked and the turn's tokens,
 * `acting -> thinking` with each tool's result, then the answer, the verifier's verdict, or the escalation.
 *
 * @example
 * step('draft', (args) => runAgent(drafter, { prompt: `Reply to: ${args.input.message}`, id: args.idempotencyKey }, args))
 */
export async function runAgent(machine: ReturnType<typeof agent>, input: AgentInput, options?: AbortSignal | AgentRunOptions): Promise<AgentOutput> {
  const { signal, note } = options === undefined ? {} : 'aborted' in options ? { signal: options as AbortSignal, note: undefined } : options;
  const actor = createActor(machine, { input });
  const stop = () => actor.stop();
  signal?.addEventListener('abort', stop, { once: true });
  if (note !== undefined) noteTurns(actor, note);
  try {
    const done = toPromise(actor); // subscribed before start: a bad input rejects here rather than going unhandled
    actor.start();
    return (await done) as AgentOutput;
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}

type AgentActor = ReturnType<typeof createActor<ReturnType<typeof agent>>>;

/** Reports each move between the agent's resting states (its transient checks are not moves of their own). */
function noteTurns(actor: AgentActor, note: (note: AttemptNote) => void): void {
  let from = 'thinking';
  let before: AgentContext | undefined;
  actor.subscribe({
    next: (snapshot) => {
      const to = String(snapshot.value);
      const context = snapshot.context;
      if (before !== undefined && to !== from) note(turnNote(from, to, context, before));
      from = to;
      before = context;
    },
    error: () => {}, // the run's promise reports it
  });
}

/** The trace note of one move: what the model asked for, what the tools gave back, the answer or the escalation. */
export function turnNote(from: string, to: string, context: AgentContext, before: AgentContext): AttemptNote {
  const turn = context.turns;
  const paid = { inputTokens: context.usage.inputTokens - before.usage.inputTokens, outputTokens: context.usage.outputTokens - before.usage.outputTokens };
  const tokens = paid.inputTokens + paid.outputTokens > 0 ? { usage: paid } : {};
  if (to === 'escalated') return { from, to, outcome: context.escalation?.reason ?? 'escalated', detail: { turn, ...tokens, reason: context.escalation?.detail } };
  if (to === 'acting') return { from, to, outcome: 'tool-calls', detail: { turn, ...tokens, tools: context.pending.map((call) => call.name) } };
  if (from === 'acting') {
    const results = context.messages.slice(before.messages.length).filter((m): m is LlmToolResultMessage => m.role === 'tool');
    return { from, to, outcome: results.some((m) => m.isError) ? 'tool-errors' : 'tool-results', detail: { turn, results: results.map((m) => ({ tool: m.toolName, ok: m.isError !== true })) } };
  }
  if (from === 'verifying') return { from, to, outcome: to === 'answered' ? 'verified' : 'rejected', detail: { turn, ...(context.verdict?.reason ? { reason: context.verdict.reason } : {}) } };
  return { from, to, outcome: 'answered', detail: { turn, ...tokens } };
}
