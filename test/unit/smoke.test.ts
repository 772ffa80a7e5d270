import { describe, expect, it } from 'vitest';
import { counterMachine } from '../fixtures/machines.js';
import { settle, testSystem } from '../fixtures/system.js';

describe('smoke', () => {
  it('tells, asks and restarts', async () => {
    await using t = await testSystem({ supervision: { backoff: { minMs: 0 } } });
    const counter = t.system.register('counter', counterMachine);
    const ref = t.system.spawn(counter, { id: 'c1' });
    ref.tell({ type: 'inc' });
    ref.tell({ type: 'inc' });
    expect(await ref.ask({ type: 'get' })).toBe(2);
    ref.tell({ type: 'crash' });
    ref.tell({ type: 'inc' });
    await settle();
    t.clock.advance(0);
    expect(await ref.ask({ type: 'get' })).toBe(1);
    console.log(t.events.map((e) => e.type));
  });
});
