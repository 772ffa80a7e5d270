import { describe, expect, test } from 'vitest';
import { estimateTokens, measure, step, workflow } from '../../../machines/index.js';
import { createNet } from './harness.js';

describe('handoff channel (issue 3)', () => {
  test('a handoff of 10,000 tokens is summarized before the next step; the trace shows both sizes', async () => {
    const requests: Array<{ tokens: number; budget: number }> = [];
    let received: unknown;
    const wf = workflow('w', {
      summarizer: async ({ tokens, budget }) => { requests.push({ tokens, budget }); return 'customer asked about order 42 three times'; },
      steps: [
        step('history', async () => 'x'.repeat(40_000 - '{"history":""}'.length)),
        step('draft', async ({ context }) => { received = context; return 'ok'; }),
      ],
    });
    const net = createNet();
    net.add('w', wf, { input: { workflowId: 'w' } });
    await net.settle();
    expect(requests).toEqual([{ tokens: 10_000, budget: 4_000 }]);
    expect(received).toBe('customer asked about order 42 three times');
    expect(net.path('w')).toEqual(['history.running', 'draft.summarizing', 'draft.running', 'completed']);
    const handoffs = net.trace.filter((e) => e.kind === 'handoff');
    expect(handoffs).toEqual([
      expect.objectContaining({ from: '', to: 'history', outcome: 'passed', bytes: 2, tokens: 1, summarized: false }),
      expect.objectContaining({
        workflowId: 'w', from: 'history', to: 'draft', outcome: 'summarized', summarized: true,
        originalBytes: 40_000, originalTokens: 10_000, bytes: measure('customer asked about order 42 three times').bytes, tokens: 11,
      }),
    ]);
    expect(net.trace.find((e) => e.step === 'draft' && e.to === 'summarizing')).toMatchObject({ outcome: 'over-budget', tokens: 10_000, bytes: 40_000 });
  });

  test('under budget the outputs pass whole; `from` selects which steps a handoff carries; the tokenizer is pluggable', async () => {
    let seen: unknown;
    const wf = workflow('w', {
      tokenizer: (text) => text.split(/\s+/).length,
      steps: [
        step('a', async () => 'one two three'),
        step('b', async () => 'four'),
        step('c', async ({ context }) => { seen = context; return null; }, { from: ['a'] }),
      ],
    });
    const net = createNet();
    net.add('w', wf);
    await net.settle();
    expect(seen).toEqual({ a: 'one two three' });
    expect(net.trace.filter((e) => e.kind === 'handoff').at(-1)).toMatchObject({ from: 'a', to: 'c', tokens: 3, summarized: false, outcome: 'passed' });
  });

  test('a summarizer agent is asked by address when over budget', async () => {
    const { setup } = await import('xstate');
    const { reply } = await import('../../../machines/index.js');
    const agent = setup({}).createMachine({ on: { summarize: { actions: reply(({ event }) => `summary of ${(event as unknown as { tokens: number }).tokens} tokens`) } } });
    let seen: unknown;
    const wf = workflow('w', {
      tokenBudget: 10,
      summarizer: 'support/summarizer',
      steps: [step('a', async () => 'y'.repeat(200)), step('b', async ({ context }) => { seen = context; return 1; })],
    });
    const net = createNet();
    net.add('support/summarizer', agent);
    net.add('w', wf);
    await net.settle();
    expect(seen).toBe('summary of 52 tokens');
  });

  test('a handoff is measured from the recorded output sizes exactly as its JSON text measures (any outputs, repeated `from` ids)', async () => {
    const outputs: Record<string, unknown> = {
      text: 'naïve café — 日本語 "quoted" \\ \n', num: 42.5, obj: { a: [1, null, 'é'], b: { c: true } }, nil: null, none: undefined, empty: '',
    };
    const ids = Object.keys(outputs);
    const wf = workflow('w', {
      steps: [
        ...ids.map((id) => step(id, async () => outputs[id])),
        step('all', async () => 1),
        step('some', async () => 2, { from: ['obj', 'text', 'obj', 'none', 'all'] }),
        step('nothing', async () => 3, { from: ['none'] }),
      ],
    });
    const net = createNet();
    const actor = net.add('w', wf);
    await net.settle();
    // The sizes are recorded (so the handoffs below were summed, not serialized again).
    const steps = (actor.getSnapshot() as unknown as { context: { steps: Record<string, { outputSize?: unknown }> } }).context.steps;
    expect(steps['text']?.outputSize).toEqual({ chars: JSON.stringify(outputs['text']).length, bytes: Buffer.byteLength(JSON.stringify(outputs['text'])) });
    expect(steps['none']?.outputSize).toBeNull();
    const expected = (from: readonly string[]) => {
      const results: Record<string, unknown> = { ...outputs, all: 1 };
      const data: Record<string, unknown> = {};
      for (const id of from) if (id in results) data[id] = results[id];
      const m = measure(data);
      return { bytes: m.bytes, tokens: m.tokens };
    };
    const handoffs = new Map(net.trace.filter((e) => e.kind === 'handoff').map((e) => [e.to, { bytes: e.bytes, tokens: e.tokens }]));
    expect(handoffs.get('all')).toEqual(expected(ids));
    expect(handoffs.get('some')).toEqual(expected(['obj', 'text', 'none', 'all']));
    expect(handoffs.get('nothing')).toEqual(expected([]));
    expect(handoffs.get('empty')).toEqual(expected(ids.slice(0, -1)));
  });

  test('estimateTokens: about four characters per token, rounded up', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('abcd')).toBe(1);
    expect(estimateTokens('abcde')).toBe(2);
  });
});
