/**
 * The tool-using agent statechart (issue 10): thinking -> acting -> thinking until an answer; a tool's transient
 * failure retried, its bad arguments told to the model, max turns and a spent token budget escalated, a failing
 * verifier told to the model and then escalated; it runs as a supervised Troupe actor and inside a workflow step.
 * The model is an in-test LlmClient answering from a script (the runtime is what is under test, not a model).
 */
import { describe, expect, it } from 'vitest';
import { createActor, toPromise } from 'xstate';
import { z } from 'zod';
import type { LlmClient, LlmRequest, LlmResponse } from '../../actors/llm.js';
import { agent, runAgent, step, traceUsage, workflow, type AgentOutput, type AttemptNote, type WorkflowOutput } from '../../machines/index.js';
import { createSystem, InvalidConfigError, RetryableError } from '../../src/index.js';

/** A model answering turn by turn from `script`; it records every request. */
function scriptedClient(script: ((request: LlmRequest, turn: number) => Partial<LlmResponse>)[]): LlmClient & { requests: LlmRequest[] } {
  const requests: LlmRequest[] = [];
  return {
    requests,
    complete: async (request) => {
      requests.push(request);
      const next = script[Math.min(requests.length - 1, script.length - 1)]!;
      return { text: '', usage: { inputTokens: 100, outputTokens: 20 }, ...next(request, requests.length) };
    },
  };
}

const lookup = (calls: { n: number }, failFirst = 0) => ({
  description: 'Looks an order up',
  input: z.object({ orderId: z.string() }),
  run: async ({ orderId }: { orderId: string }) => {
    if (++calls.n <= failFirst) throw new RetryableError('orders db busy');
    return { orderId, status: 'shipped' };
  },
});

const run = (machine: ReturnType<typeof agent>, prompt = 'Where is order 42?') => {
  const actor = createActor(machine, { input: { prompt } });
  actor.start();
  return toPromise(actor) as Promise<AgentOutput>;
};

describe('agent statechart (issue 10)', () => {
  it('calls a tool the model asks for (retrying its transient failure), then answers with the usage summed', async () => {
    const calls = { n: 0 };
    const model = scriptedClient([
      () => ({ toolCalls: [{ id: 'c1', name: 'lookupOrder', input: { orderId: '42' } }], stopReason: 'tool-calls' }),
      (request) => ({ text: `Order 42 is ${JSON.stringify((request.messages.at(-1) as { content?: { status?: string } }).content?.status)}` }),
    ]);
    const output = await run(agent({ model, system: 'You answer customers.', tools: { lookupOrder: lookup(calls, 1) } }));
    expect(output).toEqual({ status: 'answered', answer: 'Order 42 is "shipped"', turns: 2, usage: { inputTokens: 200, outputTokens: 40 } });
    expect(calls.n).toBe(2); // one transient failure, retried
    expect(model.requests[0]!.tools).toEqual([expect.objectContaining({ name: 'lookupOrder', inputSchema: expect.objectContaining({ type: 'object', required: ['orderId'] }) })]);
    expect(model.requests[0]!.messages[0]).toEqual({ role: 'system', content: 'You answer customers.' });
  });

  it("a tool's bad arguments, an unknown tool and a failing tool go back to the model as error results", async () => {
    const model = scriptedClient([
      () => ({ toolCalls: [{ id: 'c1', name: 'lookupOrder', input: { orderId: 42 } }, { id: 'c2', name: 'nope', input: {} }, { id: 'c3', name: 'broken', input: {} }] }),
      () => ({ text: 'sorry' }),
    ]);
    const broken = { input: z.object({}), run: async () => { throw new TypeError('bug'); } };
    const output = await run(agent({ model, tools: { lookupOrder: lookup({ n: 0 }), broken } }));
    expect(output.status).toBe('answered');
    const results = model.requests[1]!.messages.filter((m) => m.role === 'tool') as { toolCallId: string; content: string; isError?: boolean }[];
    expect(results.map((r) => [r.toolCallId, r.isError])).toEqual([['c1', true], ['c2', true], ['c3', true]]);
    expect(results[0]!.content).toContain('invalid arguments for lookupOrder: orderId');
    expect(results[1]!.content).toContain('unknown tool nope');
    expect(results[2]!.content).toBe('broken failed: bug'); // a TypeError is not retried
  });

  it('escalates when the turns run out or the token budget is spent, never guessing', async () => {
    const looping = () => scriptedClient([() => ({ toolCalls: [{ id: 'c', name: 'lookupOrder', input: { orderId: '1' } }] })]);
    const turns = await run(agent({ model: looping(), tools: { lookupOrder: lookup({ n: 0 }) }, maxTurns: 3 }));
    expect(turns).toMatchObject({ status: 'escalated', reason: 'max-turns', turns: 3 });
    const budget = await run(agent({ model: looping(), tools: { lookupOrder: lookup({ n: 0 }) }, tokenBudget: 250 }));
    expect(budget).toMatchObject({ status: 'escalated', reason: 'token-budget', turns: 3, detail: '360 of 250 tokens spent' });
  });

  it('a verifier rejects an answer: the model is told why and tries again; a second rejection on the last turn escalates', async () => {
    const model = scriptedClient([() => ({ text: 'We give you a 90% discount!' }), () => ({ text: 'We are sorry for the delay.' })]);
    const verify = (answer: string) => ({ pass: !answer.includes('discount'), reason: 'no discounts' });
    expect(await run(agent({ model, verify }))).toMatchObject({ status: 'answered', answer: 'We are sorry for the delay.', turns: 2 });
    expect(model.requests[1]!.messages.at(-1)).toEqual({ role: 'user', content: 'The answer was rejected: no discounts. Answer again.' });
    const stubborn = scriptedClient([() => ({ text: 'discount!' })]);
    expect(await run(agent({ model: stubborn, verify, maxTurns: 2 }))).toMatchObject({ status: 'escalated', reason: 'verify-failed', detail: 'no discounts', lastAnswer: 'discount!' });
  });

  it('refuses bad options naming the field', () => {
    expect(() => agent({ model: {} as LlmClient })).toThrow(InvalidConfigError);
    expect(() => agent({ model: scriptedClient([]), maxTurns: 0 })).toThrow(/maxTurns/);
    expect(() => agent({ model: scriptedClient([]), tools: { 'bad name': lookup({ n: 0 }) as never } })).toThrow(/bad name/);
  });

  it('with a journal, a re-run of the same id reads every turn back instead of calling the model again', async () => {
    const system = await createSystem({ name: 'journaled', logLevel: 'silent' });
    try {
      // Asks for the tool, then answers once its result is in the conversation: two calls per run.
      const model = scriptedClient([(request) => (request.messages.at(-1)!.role === 'tool' ? { text: 'shipped' } : { toolCalls: [{ id: 'c1', name: 'lookupOrder', input: { orderId: '9' } }] })]);
      const tools = { lookupOrder: lookup({ n: 0 }) };
      const machine = agent({ model, tools, journal: system.journal() });
      const first = await runAgent(machine, { prompt: 'Where is order 9?', id: 'ticket-9/draft' });
      expect(model.requests).toHaveLength(2);
      const again = await runAgent(machine, { prompt: 'Where is order 9?', id: 'ticket-9/draft' }); // a crash's re-run
      expect(again).toEqual(first);
      expect(model.requests).toHaveLength(2); // not paid twice
      await runAgent(machine, { prompt: 'Where is order 9?', id: 'ticket-10/draft' });
      expect(model.requests).toHaveLength(4); // another run pays for its own
      await expect(runAgent(machine, { prompt: 'x', id: 'bad id!' })).rejects.toThrow(/input.id/);
    } finally {
      await system.shutdown();
    }
  });

  it('runs as a supervised Troupe actor and inside a workflow step', async () => {
    const system = await createSystem({ name: 'agents', logLevel: 'silent' });
    try {
      const model = scriptedClient([() => ({ toolCalls: [{ id: 'c1', name: 'lookupOrder', input: { orderId: '7' } }] }), () => ({ text: 'shipped' })]);
      const support = agent({ model, tools: { lookupOrder: lookup({ n: 0 }) } });
      const ref = system.spawn(system.register('support-agent', support), { id: 'a1', input: { prompt: 'Where is order 7?' } });
      expect(await ref.result()).toMatchObject({ status: 'answered', answer: 'shipped' });

      const drafter = agent({ model: scriptedClient([() => ({ text: 'Dear customer, ...' })]) });
      const wf = workflow('reply', { steps: [step('draft', ({ input, signal }) => runAgent(drafter, { prompt: `Reply to: ${(input as { message: string }).message}` }, signal))] });
      const run = system.spawn(system.register('reply', wf), { id: 'w1', input: { workflowId: 'w1', address: 'agents/w1', input: { message: 'late order' } } });
      const output = (await run.result()) as WorkflowOutput;
      expect(output).toMatchObject({ status: 'completed', results: { draft: { status: 'answered', answer: 'Dear customer, ...' } } });
    } finally {
      await system.shutdown();
    }
  });

  it("inside a workflow step, each of its turns is a trace entry of the step's attempt, in order", async () => {
    const system = await createSystem({ name: 'turns', logLevel: 'silent' });
    try {
      const model = scriptedClient([
        () => ({ toolCalls: [{ id: 'c1', name: 'lookupOrder', input: { orderId: '7' } }, { id: 'c2', name: 'lookupOrder', input: { orderId: 7 } }] }),
        () => ({ text: 'it is lost' }),
        () => ({ text: 'it shipped' }),
      ]);
      const verify = (answer: string) => ({ pass: !answer.includes('lost'), reason: 'do not say lost' });
      const drafter = agent({ model, tools: { lookupOrder: lookup({ n: 0 }) }, verify });
      const wf = workflow('reply', { steps: [step('draft', (args) => runAgent(drafter, { prompt: 'Where is order 7?' }, args))] });
      const run = system.spawn(system.register('reply', wf), { id: 'w2', input: { workflowId: 'w2', address: 'turns/w2', input: {} } });
      expect(await run.result()).toMatchObject({ status: 'completed', results: { draft: { status: 'answered', answer: 'it shipped', turns: 3 } } });
      const entries = (await system.trace('w2')).filter((e) => e.step === 'draft' && e.kind !== 'handoff');
      const moves = entries.map((e) => `${e.from}>${e.to}:${e.outcome}`);
      expect(moves).toEqual([
        'pending>running:started',
        'thinking>acting:tool-calls', 'acting>thinking:tool-errors',
        'thinking>verifying:answered', 'verifying>thinking:rejected',
        'thinking>verifying:answered', 'verifying>answered:verified',
        'running>done:succeeded',
      ]);
      expect(entries.every((e) => e.attempt === 1 && e.kind === 'step')).toBe(true);
      expect(entries[1]!.detail).toEqual({ turn: 1, usage: { inputTokens: 100, outputTokens: 20 }, tools: ['lookupOrder', 'lookupOrder'] });
      expect(entries[2]!.detail).toEqual({ turn: 1, results: [{ tool: 'lookupOrder', ok: true }, { tool: 'lookupOrder', ok: false }] });
      expect(entries[4]!.detail).toEqual({ turn: 2, reason: 'do not say lost' });
      // Tokens are counted once, on the attempt's entry: a turn's are detail, not `usage`.
      expect(traceUsage(entries).total).toEqual({ inputTokens: 300, outputTokens: 60 });
    } finally {
      await system.shutdown();
    }
  });

  it("a note is recorded only while its attempt runs; a malformed one is refused where it is made", async () => {
    const system = await createSystem({ name: 'notes', logLevel: 'silent' });
    try {
      let late: ((note: AttemptNote) => void) | undefined;
      const refused: unknown[] = [];
      const wf = workflow('noted', {
        steps: [step('work', async ({ note, attempt }) => {
          for (const bad of [{ from: 'a', to: '', outcome: 'x' }, { from: 'a', to: 'b', outcome: 'x', detail: [1] }]) {
            try { note(bad as never); } catch (error) { refused.push(error); }
          }
          note({ from: 'a', to: 'b', outcome: `try-${attempt}` });
          if (attempt === 1) {
            late = note;
            throw new RetryableError('again');
          }
          late?.({ from: 'a', to: 'b', outcome: 'late' }); // attempt 1's note, sent during attempt 2
          return 'ok';
        }, { retry: { maximumAttempts: 2, initialInterval: 1 } })],
      });
      const run = system.spawn(system.register('noted', wf), { id: 'w3', input: { workflowId: 'w3', address: 'notes/w3', input: {} } });
      expect(await run.result()).toMatchObject({ status: 'completed' });
      const notes = (await system.trace('w3')).filter((e) => e.from === 'a').map((e) => `${e.attempt}:${e.outcome}`);
      expect(notes).toEqual(['1:try-1', '2:try-2']);
      expect(refused).toHaveLength(4);
      expect(refused.every((e) => e instanceof InvalidConfigError)).toBe(true);
      expect((refused as InvalidConfigError[]).map((e) => e.field)).toEqual(['note.to', 'note.detail', 'note.to', 'note.detail']);
    } finally {
      await system.shutdown();
    }
  });
});
