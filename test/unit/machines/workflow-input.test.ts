/**
 * Issue 8: a workflow's identity comes from its actor. `workflowId` defaults to the actor's id, `address` to its
 * address, and the input is the user's own unless it is the explicit `WorkflowInput` wrapper.
 */
import { createActor } from 'xstate';
import { describe, expect, test } from 'vitest';
import { isWorkflowInput, step, workflow, type WorkflowContext } from '../../../machines/index.js';
import { createNet } from './harness.js';

// A step that never settles keeps the run in its first step, so the context can be read at leisure.
const wf = workflow('customer-reply', { steps: [step('history', () => new Promise(() => {}))] });

function contextOf(input: unknown, id?: string): Pick<WorkflowContext, 'workflowId' | 'address' | 'escrow' | 'input' | 'rng'> {
  const actor = createActor(wf, id === undefined ? { input } : { id, input });
  actor.start();
  const { workflowId, address, escrow, input: given, rng } = actor.getSnapshot().context;
  actor.stop();
  return { workflowId, address, escrow, input: given, rng };
}

describe('workflow input and identity (issue 8)', () => {
  test("without a wrapper, the input is the user's own and the run is named by its actor", () => {
    const ticket = { customer: 'ana', text: 'where is my order?' };
    expect(contextOf(ticket, 'support/tickets/ticket-42')).toMatchObject({
      workflowId: 'ticket-42', address: 'support/tickets/ticket-42', escrow: 'support/escrow', input: ticket,
    });
    // Issue 13: the default escrow is the one of the workflow's own system, an address that can exist.
    expect(contextOf(ticket, 'billing/t-9')).toMatchObject({ escrow: 'billing/escrow' });
    expect(contextOf('plain text', 'support/t-1')).toMatchObject({ workflowId: 't-1', address: 'support/t-1', input: 'plain text' });
    expect(contextOf(undefined, 'support/t-2')).toMatchObject({ workflowId: 't-2', address: 'support/t-2', input: undefined });
  });

  test('the explicit wrapper still works, and each field it gives wins over the default', () => {
    const ticket = { customer: 'ana' };
    expect(contextOf({ input: ticket }, 'support/t-3')).toMatchObject({ workflowId: 't-3', address: 'support/t-3', input: ticket });
    expect(contextOf({ workflowId: 'order-7', input: ticket }, 'support/t-3')).toMatchObject({ workflowId: 'order-7', address: 'support/t-3', input: ticket });
    expect(contextOf({ workflowId: 'w', address: 'support/elsewhere', escrow: 'support/escrow', seed: 7 }, 'support/t-3')).toEqual({
      workflowId: 'w', address: 'support/elsewhere', escrow: 'support/escrow', input: undefined, rng: 7,
    });
  });

  test('an actor created without an id falls back to the definition id, as before', () => {
    expect(contextOf({ customer: 'ana' })).toMatchObject({ workflowId: 'customer-reply', address: 'customer-reply' });
    expect(contextOf({ workflowId: 'ticket-9' })).toMatchObject({ workflowId: 'ticket-9', address: 'ticket-9' });
  });

  test('the jitter seed follows the effective workflow id', () => {
    expect(contextOf({}, 'support/a').rng).toBe(contextOf({ workflowId: 'a' }, 'support/b').rng);
    expect(contextOf({}, 'support/a').rng).not.toBe(contextOf({}, 'support/b').rng);
  });

  test('only a plain object made of wrapper keys with the right types is the wrapper', () => {
    expect(isWorkflowInput({ workflowId: 'w' })).toBe(true);
    expect(isWorkflowInput({ input: 1, seed: 3 })).toBe(true);
    expect(isWorkflowInput({ address: '12 Main St', customer: 'ana' })).toBe(false); // a key of its own: user input
    expect(isWorkflowInput({ workflowId: 42 })).toBe(false);
    expect(isWorkflowInput({ seed: '3' })).toBe(false);
    expect(isWorkflowInput({})).toBe(false);
    expect(isWorkflowInput([])).toBe(false);
    expect(isWorkflowInput(new Map([['input', 1]]))).toBe(false);
    expect(isWorkflowInput(null)).toBe(false);
    // What is not the wrapper reaches the steps whole.
    expect(contextOf({ address: '12 Main St', customer: 'ana' }, 'support/t-4')).toMatchObject({
      address: 'support/t-4', input: { address: '12 Main St', customer: 'ana' },
    });
  });

  test('two runs of one definition, named only by their actors, get distinct idempotency keys', async () => {
    const keys: string[] = [];
    const keyed = workflow('reply', { steps: [step('send', async ({ idempotencyKey }) => void keys.push(idempotencyKey))] });
    const net = createNet();
    net.add('support/ticket-1', keyed, { input: { text: 'a' } });
    net.add('support/ticket-2', keyed, { input: { text: 'b' } });
    await net.settle();
    expect(keys.sort()).toEqual(['ticket-1/send', 'ticket-2/send']);
  });
});
