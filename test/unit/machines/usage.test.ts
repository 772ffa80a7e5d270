/**
 * Model usage in the trace (issue 10): an attempt whose output reports `usage` (an agent's does) puts it on the entry
 * that first holds the output, so `traceUsage` sums what every attempt paid for — a draft the verifier refused too —
 * per step and per workflow. Outputs without usage add nothing.
 */
import { describe, expect, test } from 'vitest';
import { step, traceUsage, workflow } from '../../../machines/index.js';
import { createNet } from './harness.js';

describe('usage in the trace (issue 10)', () => {
  test('every attempt counts, a refused one too; traceUsage sums per step and in all', async () => {
    let drafts = 0;
    const wf = workflow('w', {
      steps: [
        step('classify', async () => ({ label: 'angry', usage: { inputTokens: 7, outputTokens: 3 } })),
        step('draft', async () => ({ reply: `draft ${++drafts}`, usage: { inputTokens: 100, outputTokens: 20 } }), {
          verify: ({ output }) => (output as { reply: string }).reply !== 'draft 1', retry: { initialInterval: 10, jitter: 0 },
        }),
        step('send', async () => ({ messageId: 'm1' })),
      ],
    });
    const net = createNet();
    net.add('w', wf);
    for (let i = 0; i < 20 && net.get('w').getSnapshot().status !== 'done'; i++) await net.advance(10);
    expect(net.get('w').getSnapshot().output).toMatchObject({ status: 'completed' });
    const usageEntries = net.trace.filter((e) => e.usage !== undefined).map((e) => `${e.step}:${e.outcome}:${e.attempt}`);
    expect(usageEntries).toEqual(['classify:succeeded:1', 'draft:produced:1', 'draft:produced:2']);
    expect(traceUsage(net.trace)).toEqual({
      total: { inputTokens: 207, outputTokens: 43 },
      steps: { classify: { inputTokens: 7, outputTokens: 3 }, draft: { inputTokens: 200, outputTokens: 40 } },
    });
    expect(traceUsage([])).toEqual({ total: { inputTokens: 0, outputTokens: 0 }, steps: {} });
  });

  test('an output below minConfidence carries its usage on the escalated entry', async () => {
    const wf = workflow('w', { steps: [step('draft', async () => ({ confidence: 0.5, usage: { inputTokens: 9, outputTokens: 4 } }), { minConfidence: 0.8 })] });
    const net = createNet();
    net.add('w', wf);
    await net.settle();
    expect(net.trace.filter((e) => e.usage !== undefined).map((e) => e.outcome)).toEqual(['escalated']);
    expect(traceUsage(net.trace).total).toEqual({ inputTokens: 9, outputTokens: 4 });
  });
});
