/**
 * Issue 13: `system.spawn` is typed by the logic's input. Given the handle `register` returned, a workflow's input is
 * checked against its definition's type (the steps' input or the `WorkflowInput` wrapper), a machine's against its
 * `types.input`. The `@ts-expect-error` lines are the type-level assertions (`npm run typecheck` fails if one of them
 * compiles); the runtime assertions check that what compiles also runs as typed.
 */
import { afterEach, describe, expect, expectTypeOf, test } from 'vitest';
import { assign, setup } from 'xstate';
import { createSystem, type SpawnOptions, type TroupeSystem } from '../../src/index.js';
import { escrow, step, workflow, type AttemptArgs, type EscrowInput, type WorkflowInput, type WorkflowOutput } from '../../machines/index.js';

interface Ticket {
  readonly customer: string;
}

const greet = workflow<Ticket>('greet', {
  steps: [step<Ticket>('hello', ({ input }: AttemptArgs<Ticket>) => `hello ${input.customer}`)],
});
const counter = setup({ types: { input: {} as { start: number }, context: {} as { n: number } } }).createMachine({
  context: ({ input }) => ({ n: input.start }),
  on: { inc: { actions: assign({ n: ({ context }) => context.n + 1 }) } },
});

let system: TroupeSystem | undefined;
afterEach(async () => { await system?.shutdown({ timeoutMs: 1_000 }); system = undefined; });

describe('spawn typed by the logic\'s input (issue 13)', () => {
  test('a workflow handle takes its definition\'s input, or the wrapper around it, and nothing else', async () => {
    system = await createSystem({ name: 'types', logLevel: 'silent' });
    const handle = system.register('greet', greet);
    type Options = Parameters<typeof system.spawn<typeof greet>>[1];
    expectTypeOf<Options>().toEqualTypeOf<SpawnOptions<Ticket | WorkflowInput<Ticket>>>();

    system.spawn(handle, { id: 'plain', input: { customer: 'ada' } });
    system.spawn(handle, { id: 'wrapped', input: { workflowId: 'order-1', input: { customer: 'bo' } } });
    // @ts-expect-error a number is no customer name
    expect(() => system!.spawn(handle, { id: 'bad-field', input: { customer: 42 } })).not.toThrow();
    // @ts-expect-error the wrapper's input is the definition's type too
    expect(() => system!.spawn(handle, { id: 'bad-wrapped', input: { input: { name: 'cy' } } })).not.toThrow();
    // @ts-expect-error not a Ticket at all
    expect(() => system!.spawn(handle, { id: 'bad-string', input: 'ticket' })).not.toThrow();

    expect(await system.result<WorkflowOutput>('types/plain')).toMatchObject({ status: 'completed', results: { hello: 'hello ada' } });
    expect(await system.result<WorkflowOutput>('types/wrapped')).toMatchObject({ status: 'completed', results: { hello: 'hello bo' } });
  });

  test('a machine handle takes its types.input; the escrow its EscrowInput; a spawn by name is unchecked', async () => {
    system = await createSystem({ name: 'types', logLevel: 'silent' });
    const counterHandle = system.register('counter', counter);
    const ref = system.spawn(counterHandle, { id: 'c1', input: { start: 41 } });
    ref.tell({ type: 'inc' });
    await expect.poll(() => ref.getSnapshot()?.context.n, { timeout: 2_000 }).toBe(42);
    // @ts-expect-error start is a number
    expect(() => system!.spawn(counterHandle, { id: 'c2', input: { start: '41' } })).not.toThrow();

    const escrowHandle = system.register('escrow', escrow);
    expectTypeOf<Parameters<typeof system.spawn<typeof escrow>>[1]['input']>().toEqualTypeOf<EscrowInput | undefined>();
    system.spawn(escrowHandle, { id: 'escrow', input: { levels: ['operator', 'lead'] } });
    // @ts-expect-error levels is a list
    expect(() => system!.spawn(escrowHandle, { id: 'escrow-2', input: { levels: 'operator' } })).not.toThrow();

    // By name the logic is not known to the compiler: any input compiles, as before.
    system.spawn('counter', { id: 'c3', input: { start: 1 } });
    expectTypeOf<Parameters<typeof system.spawn>[1]['input']>().toBeAny();
  });
});
