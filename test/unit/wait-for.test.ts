import { describe, expect, it } from 'vitest';
import { ActorTerminatedError, createManualClock, createSystem, TimeoutError } from '../../src/index.js';
import { counterMachine, finishingCounter } from '../fixtures/machines.js';
import { advance, sharedMemoryDurability, testSystem } from '../fixtures/system.js';

const countOf = (s: { context: { count: number } }) => s.context.count;

describe('ref.waitFor: XState waitFor for a Troupe ref (issue 13)', () => {
  it('resolves with the first snapshot that matches, now or later', async () => {
    await using t = await testSystem();
    const ref = t.system.spawn(t.system.register('counter', counterMachine), { id: 'c' });
    expect(countOf(await ref.waitFor((s) => s.context.count === 0))).toBe(0);
    const three = ref.waitFor((s) => s.context.count >= 3);
    for (let i = 0; i < 5; i++) ref.tell({ type: 'inc' });
    expect(countOf(await three)).toBe(3);
  });

  it('follows the actor across a supervisor restart', async () => {
    await using t = await testSystem();
    const ref = t.system.spawn(t.system.register('counter', counterMachine), { id: 'c' });
    ref.tell({ type: 'inc' });
    const two = ref.waitFor((s) => s.context.count === 2 && s.status === 'active');
    ref.tell({ type: 'crash' }); // restarted from the initial state: count 0
    await advance(t.clock, 10_000); // the restart's backoff is a timer on the manual clock
    for (let i = 0; i < 2; i++) ref.tell({ type: 'inc' });
    expect(countOf(await two)).toBe(2);
    expect(t.eventsOf('rt.supervisor.decision').map((e) => e.directive)).toEqual(['restart']);
  });

  it('rejects with TimeoutError, with ActorTerminatedError when the actor finishes without a match, and with an abort reason', async () => {
    await using t = await testSystem();
    const counter = t.system.spawn(t.system.register('counter', counterMachine), { id: 'c' });
    const timedOut = counter.waitFor((s) => s.context.count === 99, { timeoutMs: 20 });
    await expect(timedOut).rejects.toBeInstanceOf(TimeoutError);

    const finishing = t.system.spawn(t.system.register('finishing', finishingCounter(2)), { id: 'f' });
    const never = finishing.waitFor((s) => s.context.seen.includes(7));
    finishing.tell({ type: 'inc', n: 1 });
    finishing.tell({ type: 'inc', n: 2 });
    const error = await never.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ActorTerminatedError);
    expect(error).toMatchObject({ address: finishing.address, status: 'done' });

    const controller = new AbortController();
    const aborted = counter.waitFor(() => false, { signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await expect(aborted).rejects.toThrow('caller gave up');
  });

  it('waits for a durable actor to read its record, and sees the stored state', async () => {
    const clock = createManualClock(0);
    const durability = await sharedMemoryDurability();
    const first = await createSystem({ name: 'wf', clock, logLevel: 'silent', durability });
    first.register('counter', counterMachine);
    const ref = first.spawn<typeof counterMachine>('counter', { id: 'd', durable: true });
    for (let i = 0; i < 3; i++) await ref.deliver({ type: 'inc' });
    await ref.waitFor((s) => s.context.count === 3);
    await first.shutdown();

    const second = await createSystem({ name: 'wf', clock, logLevel: 'silent', durability });
    second.register('counter', counterMachine);
    const again = second.spawn<typeof counterMachine>('counter', { id: 'd', durable: true });
    expect(again.getSnapshot()).toBeUndefined(); // the record is still being read
    expect(countOf(await again.waitFor((s) => s.context.count >= 3, { timeoutMs: 1_000 }))).toBe(3);
    await second.shutdown();
  });
});
