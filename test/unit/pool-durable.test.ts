/** Pools are Troupe actors (issue 11): spawned durable, their holders, queue and lease deadlines survive a restart of their node. */
import { describe, expect, it } from 'vitest';
import { pool, type PoolStatus } from '../../machines/index.js';
import { createManualClock, createSystem } from '../../src/index.js';
import { advance, sharedMemoryDurability } from '../fixtures/system.js';

describe('a durable pool (issue 11)', () => {
  it('keeps its holders and queue across a restart of its node, and still revokes a lease at its stored deadline', async () => {
    const clock = createManualClock(0);
    const durability = await sharedMemoryDurability();
    const first = await createSystem({ name: 'res', clock, logLevel: 'silent', durability });
    first.register('pool', pool);
    const gpu = first.spawn<typeof pool>('pool', { id: 'gpu', durable: true, input: { capacity: 1, leaseMs: 10_000 } });
    await gpu.deliver({ type: 'pool.acquire', requestId: 'a', replyTo: 'res/nobody' });
    await gpu.deliver({ type: 'pool.acquire', requestId: 'b', replyTo: 'res/nobody' });
    const before = await gpu.ask<PoolStatus>({ type: 'pool.status' });
    expect(before.holders.map((h) => h.requestId)).toEqual(['a']);
    await first.shutdown();

    const second = await createSystem({ name: 'res', clock, logLevel: 'silent', durability });
    second.register('pool', pool);
    expect(await second.recover()).toEqual(['res/gpu']);
    const again = second.lookup<typeof pool>('res/gpu');
    const after = await again.ask<PoolStatus>({ type: 'pool.status' });
    expect(after.holders.map((h) => h.requestId)).toEqual(['a']);
    expect(after.queue.map((q) => q.requestId)).toEqual(['b']);
    await advance(clock, 10_000); // a's lease, rescheduled from the stored due time, runs out: b gets the slot
    const later = await again.ask<PoolStatus>({ type: 'pool.status' });
    expect(later.holders.map((h) => h.requestId)).toEqual(['b']);
    await second.shutdown();
  });
});
