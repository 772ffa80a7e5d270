/**
 * Guide example: workflows, sagas and the escrow (docs/guides/workflows-and-escalation.md). An order workflow
 * retries a flaky reservation, escalates an unsure fraud check to a person (approved here through
 * `system.escrow()`, as the inspector or the CLI would), and when the critical charge fails for good it compensates
 * the reservation and aborts with the cause. The test suite runs it (test/integration/guides.test.ts).
 */
import { escrow, step, workflow, type WorkflowOutput } from '../machines/index.js';
import { Aborted, createSystem, NonRetryableError } from '../src/index.js';

let reservations = 0;
const order = workflow<{ sku: string }>('order', {
  steps: [
    step('reserve', async ({ input, attempt }) => {
      if (attempt === 1) throw new Error('inventory service timed out'); // transient: retried with backoff
      reservations++;
      return { sku: input.sku, hold: 'H-1' };
    }, { retry: { initialInterval: 50 }, compensate: async () => void reservations-- }),
    step('fraud-check', async () => ({ risk: 'unclear', confidence: 0.4 }), { minConfidence: 0.8 }), // a person decides
    step('charge', async () => { throw new NonRetryableError('card declined'); }), // critical by default
  ],
});

const system = await createSystem({ name: 'shop' });
system.spawn(system.register('escrow', escrow), { id: 'escrow' }); // the default escrow: shop/escrow
const run = system.spawn(system.register('order', order), { id: 'order-7', input: { sku: 'lamp' } });

// A person looks at the queue and approves the fraud check.
let waiting = await system.escrow().list();
for (let i = 0; i < 100 && waiting.length === 0; i++) waiting = await new Promise((r) => setTimeout(r, 20)).then(() => system.escrow().list());
console.log(`waiting for a person: ${waiting.map((item) => `${item.stepId} (${item.reason})`).join(', ')}`);
await system.escrow().approve(waiting[0]!.id, { by: 'ana', output: { risk: 'low', confidence: 1 } });

const outcome = await run.result<WorkflowOutput>().catch((error: unknown) => error);
console.log(`aborted: ${outcome instanceof Aborted}`);
const trace = await system.trace('order-7');
console.log(`reserve attempts: ${trace.filter((e) => e.kind === 'step' && e.step === 'reserve' && e.to === 'running').length}`);
console.log(`compensated: ${trace.filter((e) => e.kind === 'compensation' && e.to === 'done').map((e) => e.step).join(', ')}`);
console.log(`reservations left: ${reservations}`);
await system.shutdown();
