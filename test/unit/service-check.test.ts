import { describe, expect, it } from 'vitest';
import { escrow, step, workflow } from '../../machines/index.js';
import { InvalidChildSpecError } from '../../src/index.js';
import { testSystem } from '../fixtures/system.js';

const saga = workflow('saga', {
  steps: [step('charge', async () => 'charged', { compensate: async () => undefined }), step('ship', async () => 'shipped')],
});
const guarded = workflow('guarded', { steps: [step('call', async () => 1, { breaker: 'svc/breakers/crm' })] });
const plain = workflow('plain', { steps: [step('a', async () => 1), step('b', async () => 2)] });

describe('a workflow talks only to services that exist: checked at spawn on the embedded default (issue 13)', () => {
  it('a workflow that can escalate needs its escrow: the spawn fails naming it, and works once it runs', async () => {
    await using t = await testSystem({ name: 'svc' });
    const sagaLogic = t.system.register('saga', saga);
    const error = (() => { try { t.system.spawn(sagaLogic, { id: 'order-1' }); } catch (e) { return e; } })();
    expect(error).toBeInstanceOf(InvalidChildSpecError);
    expect((error as Error).message).toContain('escrow');
    expect((error as Error).message).toContain('escrow names svc/escrow, where nothing runs');
    expect(t.system.lookup('svc/order-1').getSnapshot()).toBeUndefined(); // nothing was spawned

    t.system.spawn(t.system.register('escrow', escrow), { id: 'escrow' });
    const ref = t.system.spawn(sagaLogic, { id: 'order-2' });
    await expect(ref.result({ timeoutMs: 2_000 })).resolves.toMatchObject({ status: 'completed', results: { charge: 'charged', ship: 'shipped' } });
  });

  it("the escrow named by the input is the one checked; a step's breaker must run too; a workflow that never escalates needs no escrow", async () => {
    await using t = await testSystem({ name: 'svc' });
    t.system.spawn(t.system.register('escrow', escrow), { id: 'desk' });
    const sagaLogic = t.system.register('saga', saga);
    expect(() => t.system.spawn(sagaLogic, { id: 'o1' })).toThrow(/escrow names svc\/escrow, where nothing runs/);
    await expect(t.system.spawn(sagaLogic, { id: 'o2', input: { escrow: 'svc/desk', input: {} } }).result({ timeoutMs: 2_000 })).resolves.toMatchObject({ status: 'completed' });

    const guardedLogic = t.system.register('guarded', guarded);
    expect(() => t.system.spawn(guardedLogic, { id: 'g1' })).toThrow(/steps\.call\.breaker names svc\/breakers\/crm, where nothing runs/);

    await expect(t.system.spawn(t.system.register('plain', plain), { id: 'p1' }).result({ timeoutMs: 2_000 })).resolves.toMatchObject({ status: 'completed' });
  });
});
