import { describe, expect, it } from 'vitest';
import { escrow, step, workflow } from '../../machines/index.js';
import { DeadLetterError } from '../../src/index.js';
import { until } from '../fixtures/chaos.js';
import { testSystem } from '../fixtures/system.js';

describe('a decision that cannot reach its workflow fails the decider (issue 13)', () => {
  it('approving the item of a stopped workflow rejects with DeadLetterError and keeps the item; rejecting clears it', async () => {
    await using t = await testSystem({ name: 'hitl' });
    t.system.spawn(t.system.register('escrow', escrow), { id: 'escrow' });
    const wf = workflow('w', { steps: [step('draft', async () => ({ confidence: 0.1 }), { minConfidence: 0.9 })] });
    const run = t.system.spawn(t.system.register('w', wf), { id: 'w1' });
    const desk = t.system.escrow();
    const [item] = await until(5_000, 'the step waits for a person', async () => {
      const items = await desk.list();
      return items.length > 0 ? items : undefined;
    });
    await run.stop(); // the workflow is gone: nobody waits for the decision any more

    const refused = await desk.approve(item!.id, { by: 'ana' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DeadLetterError);
    expect((refused as Error).message).toContain('hitl/w1');
    expect((await desk.list()).map((i) => i.id)).toEqual([item!.id]); // not lost: still waiting for a person
    await expect(desk.retry(item!.id, { by: 'ana' })).rejects.toBeInstanceOf(DeadLetterError);

    expect(await desk.reject(item!.id, { by: 'ana', reason: 'workflow cancelled' })).toBe('rejected');
    expect(await desk.list()).toEqual([]);
  });
});

describe("the inspector's decisions (issue 13)", () => {
  it('refuses to approve the item of a workflow that is gone, and lets a person reject it', async () => {
    const { decide } = await import('../../inspector/decisions.js');
    await using t = await testSystem({ name: 'insp' });
    t.system.spawn(t.system.register('escrow', escrow), { id: 'escrow' });
    const wf = workflow('w', { steps: [step('draft', async () => ({ confidence: 0.1 }), { minConfidence: 0.9 })] });
    const run = t.system.spawn(t.system.register('w', wf), { id: 'w1' });
    const [item] = await until(5_000, 'the step waits for a person', async () => {
      const items = await t.system.escrow().list();
      return items.length > 0 ? items : undefined;
    });
    await run.stop();
    const refused = await decide(t.system, { t: 'decide', requestId: 'r1', escrow: 'insp/escrow', itemId: item!.id, decision: 'approve', by: 'ana' });
    expect(refused).toEqual({ ok: false, error: expect.stringContaining('insp/w1') as unknown });
    expect(await decide(t.system, { t: 'decide', requestId: 'r1', escrow: 'insp/escrow', itemId: item!.id, decision: 'reject', by: 'ana' })).toEqual({ ok: true });
    expect(await until(5_000, 'the item is cleared', async () => ((await t.system.escrow().list()).length === 0 ? true : undefined))).toBe(true);
  });
});
