/**
 * Issue 13, typed escrow API: `system.escrow()` lists the items waiting for a person and decides one (approve,
 * reject, retry, with the decider's name); a decision for an item the escrow does not hold rejects with
 * UnknownEscrowItemError instead of being ignored. Real runtime (embedded default), manual clock.
 */
import { afterEach, describe, expect, expectTypeOf, test } from 'vitest';
import {
  createManualClock,
  createSystem,
  DeadLetterError,
  InvalidAddressError,
  UnknownEscrowItemError,
  type ActorRef,
  type EscrowItem,
  type EscrowOutcome,
  type TroupeSystem,
} from '../../src/index.js';
import { escrow, step, workflow, type WorkflowOutput } from '../../machines/index.js';

let system: TroupeSystem | undefined;
afterEach(async () => { await system?.shutdown({ timeoutMs: 1_000 }); system = undefined; });

async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A system with its default escrow and a workflow whose `draft` step escalates on its first attempt. */
async function escalated(): Promise<{ system: TroupeSystem; run: ActorRef; outputs: () => WorkflowOutput | undefined; calls: () => number }> {
  system = await createSystem({ name: 'support', clock: createManualClock(1_000_000), logLevel: 'silent' });
  system.spawn(system.register('escrow', escrow, { version: 1 }), { id: 'escrow' });
  let calls = 0;
  const wf = workflow('review', {
    steps: [step('draft', async () => ({ text: 'hi', confidence: ++calls === 1 ? 0.2 : 0.95 }), { minConfidence: 0.9 }), step('send', async ({ context }) => context)],
  });
  const run = system.spawn(system.register('review', wf, { version: 1 }), { id: 'ticket-9' });
  let output: WorkflowOutput | undefined;
  run.subscribe((s) => { output = (s as { output?: WorkflowOutput }).output; });
  await settle();
  return { system, run, outputs: () => output, calls: () => calls };
}

describe('system.escrow() (issue 13)', () => {
  test('lists the waiting item, typed, at the default <system>/escrow', async () => {
    const { system } = await escalated();
    const queue = system.escrow();
    expect(queue.address).toBe('support/escrow');
    const items = await queue.list();
    expectTypeOf(items).toEqualTypeOf<EscrowItem[]>();
    expect(items).toEqual([expect.objectContaining({ id: 'ticket-9/draft/1', workflowId: 'ticket-9', stepId: 'draft', replyTo: 'support/ticket-9', tier: 'internal', level: 0 })]);
  });

  test('approve with an edited output: the receipt says approved, the workflow completes with the edit, the trace names the decider', async () => {
    const { system, outputs } = await escalated();
    const outcome = await system.escrow().approve('ticket-9/draft/1', { by: 'ana', output: { text: 'hello', confidence: 1 } });
    expectTypeOf(outcome).toEqualTypeOf<EscrowOutcome>();
    expect(outcome).toBe('approved');
    await settle();
    expect(outputs()).toMatchObject({ status: 'completed', results: { draft: { text: 'hello', confidence: 1 } } });
    expect(await system.escrow().list()).toEqual([]);
    const decided = (await system.trace('ticket-9')).find((e) => e.kind === 'escrow' && e.outcome === 'approved');
    expect(decided?.detail).toMatchObject({ itemId: 'ticket-9/draft/1', by: 'ana', edited: true });
  });

  test('reject with a reason: the critical step fails and the workflow aborts with the reason', async () => {
    const { system, outputs } = await escalated();
    expect(await system.escrow().reject('ticket-9/draft/1', { by: 'ben', reason: 'off-brand' })).toBe('rejected');
    await settle();
    expect(outputs()).toMatchObject({ status: 'aborted', cause: { stepId: 'draft', error: { message: 'rejected by a person: off-brand' } } });
  });

  test('retry: the step runs again and the workflow completes with the new attempt', async () => {
    const { system, outputs, calls } = await escalated();
    expect(await system.escrow().decide('ticket-9/draft/1', { decision: 'retry', by: 'cy' })).toBe('retry');
    await settle();
    expect(calls()).toBe(2);
    expect(outputs()).toMatchObject({ status: 'completed', results: { draft: { confidence: 0.95 } } });
  });

  test('an unknown item id rejects with UnknownEscrowItemError and leaves the waiting item alone; so does deciding one twice', async () => {
    const { system, outputs } = await escalated();
    const queue = system.escrow();
    const unknown = await queue.approve('ticket-9/draft/7', { by: 'ana' }).then(() => undefined, (e: unknown) => e);
    expect(unknown).toBeInstanceOf(UnknownEscrowItemError);
    expect(unknown).toMatchObject({ itemId: 'ticket-9/draft/7', escrow: 'support/escrow', message: 'no item "ticket-9/draft/7" is waiting in the escrow support/escrow' });
    expect((await queue.list()).map((i) => i.id)).toEqual(['ticket-9/draft/1']);
    expect(outputs()).toBeUndefined();

    expect(await queue.approve('ticket-9/draft/1', { by: 'ana' })).toBe('approved');
    await expect(queue.reject('ticket-9/draft/1', { by: 'ben' })).rejects.toBeInstanceOf(UnknownEscrowItemError);
  });

  test('an address with no escrow fails fast; an address of another system is refused', async () => {
    const { system } = await escalated();
    await expect(system.escrow('support/nobody').list()).rejects.toBeInstanceOf(DeadLetterError);
    await expect(system.escrow('support/nobody').approve('x', { by: 'ana' })).rejects.toBeInstanceOf(DeadLetterError);
    expect(() => system.escrow('billing/escrow')).toThrow(InvalidAddressError);
  });

  test('escrow events are typed: a decision without an item id or with a misspelt type does not compile', async () => {
    const { system } = await escalated();
    const ref = system.lookup<typeof escrow>('support/escrow');
    // @ts-expect-error a decision names its item
    expect(() => ref.tell({ type: 'escrow.approve', by: 'ana' })).not.toThrow();
    // @ts-expect-error no such escrow event
    expect(() => ref.tell({ type: 'escrow.aprove', itemId: 'x' })).not.toThrow();
    // A plain tell of a decision for an unknown item changes nothing and answers nothing (there is no ask).
    ref.tell({ type: 'escrow.approve', itemId: 'nope', by: 'ana' });
    await settle();
    expect((await system.escrow().list()).map((i) => i.id)).toEqual(['ticket-9/draft/1']);
  });
});
