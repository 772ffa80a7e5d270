/**
 * Guide example: actors and supervision (docs/guides/actors-and-supervision.md). A worker that crashes on bad input
 * is restarted by its one-for-one supervisor; the messages sent meanwhile reach the new incarnation; the crash
 * message itself is a dead letter. Prints one line per fact; the test suite runs it (test/integration/guides.test.ts).
 */
import { assign, setup } from 'xstate';
import { reply } from '../machines/index.js';
import { createSystem } from '../src/index.js';

const worker = setup({
  types: { context: {} as { done: number }, events: {} as { type: 'job'; size: number } | { type: 'count' } },
  actions: { work: assign({ done: ({ context }) => context.done + 1 }) },
  guards: { corrupt: ({ event }) => event.type === 'job' && event.size < 0 },
}).createMachine({
  context: { done: 0 },
  on: {
    job: [{ guard: 'corrupt', actions: () => { throw new Error('negative size'); } }, { actions: 'work' }],
    count: { actions: reply(({ context }) => context.done) },
  },
});

const system = await createSystem({ name: 'guide', supervision: { backoff: { minMs: 10 } } });
let restarts = 0;
let restarted!: () => void;
const firstRestart = new Promise<void>((resolve) => (restarted = resolve));
system.subscribe((event) => {
  if (event.type !== 'rt.actor.restarted') return;
  restarts++;
  restarted();
});
const team = system.supervisor('team', { strategy: 'one-for-one', intensity: 3, periodMs: 10_000 });
const ref = system.spawn(system.register('worker', worker), { id: 'w1', parent: team });

ref.tell({ type: 'job', size: 1 });
ref.tell({ type: 'job', size: -1 }); // throws: the actor fails, its supervisor restarts it
ref.tell({ type: 'job', size: 2 }); // held during the restart, handled by the new incarnation
await firstRestart;
await ref.waitFor((s) => s.context.done === 1, { timeoutMs: 5_000 }); // the new incarnation starts from 0

console.log(`restarts: ${restarts}`);
console.log(`jobs done by the new incarnation: ${await ref.ask<number>({ type: 'count' })}`);
console.log(`dead letters: ${system.deadLetters.count()}`);
await system.shutdown();
