/**
 * Batching of small requests by key (issue 11) on the simulated clock: a key's items go out as one message when the
 * batch is full or maxWaitMs after its first item; keys are independent; an item repeated by an at-least-once sender
 * is taken once; flush sends now; a restored batcher forwards what it held; bad settings name the field.
 */
import { describe, expect, test } from 'vitest';
import { assign, createActor, setup } from 'xstate';
import { InvalidConfigError } from '../../../src/errors.js';
import { batcher, type BatchContext, type BatchMessage } from '../../../machines/index.js';
import { createNet } from './harness.js';

const sink = setup({ types: { context: {} as { got: BatchMessage[] }, events: {} as BatchMessage } }).createMachine({
  context: { got: [] },
  on: { '*': { actions: assign({ got: ({ context, event }) => [...context.got, event] }) } },
});

function setupBatch(input: { maxSize: number; maxWaitMs: number; batchType?: string }, snapshot?: unknown) {
  const net = createNet();
  const b = net.add('batch', batcher, { input: { target: 'sink', ...input }, ...(snapshot === undefined ? {} : { snapshot }) });
  const out = net.add('sink', sink);
  const got = () => (out.getSnapshot().context as { got: BatchMessage[] }).got.map((m) => `${m.type}:${m.key}:${m.items.join(',')}`);
  const add = (key: string | undefined, item: unknown, id?: string) => b.send({ type: 'batch.add', item, ...(key === undefined ? {} : { key }), ...(id === undefined ? {} : { id }) });
  const ctx = () => b.getSnapshot().context as BatchContext;
  return { net, b, got, add, ctx };
}

describe('batching of small requests (issue 11)', () => {
  test('a full batch goes out at once; a partial one maxWaitMs after its first item; keys are batched apart', async () => {
    const { net, got, add, ctx } = setupBatch({ maxSize: 3, maxWaitMs: 200 });
    for (const n of [1, 2, 3, 4]) add('en', n);
    add('de', 'a');
    await net.settle();
    expect(got()).toEqual(['batch:en:1,2,3']); // full: no wait
    await net.advance(150);
    add('de', 'b'); // joins de's open batch: its due time stays 200 ms after 'a'
    await net.advance(49);
    expect(got()).toEqual(['batch:en:1,2,3']);
    await net.advance(1);
    expect(got()).toEqual(['batch:en:1,2,3', 'batch:en:4', 'batch:de:a,b']);
    expect(ctx()).toMatchObject({ open: {}, batches: 3, items: 6, timers: {} });
    await net.advance(1_000);
    expect(got()).toHaveLength(3); // nothing more
  });

  test('an item repeated by an at-least-once sender is taken once; items without a key share one batch', async () => {
    const { net, got, add, ctx } = setupBatch({ maxSize: 10, maxWaitMs: 100, batchType: 'embed.batch' });
    add(undefined, 'x', 'doc-1');
    add(undefined, 'x', 'doc-1');
    add(undefined, 'y', 'doc-2');
    add(undefined, 'z');
    await net.advance(100);
    expect(got()).toEqual(['embed.batch::x,y,z']);
    expect(ctx().repeats).toBe(1);
  });

  test('flush sends one key now, or every key', async () => {
    const { net, b, got, add } = setupBatch({ maxSize: 10, maxWaitMs: 10_000 });
    add('a', 1);
    add('b', 2);
    add('c', 3);
    b.send({ type: 'batch.flush', key: 'b' });
    await net.settle();
    expect(got()).toEqual(['batch:b:2']);
    b.send({ type: 'batch.flush' });
    await net.settle();
    expect(got()).toEqual(['batch:b:2', 'batch:a:1', 'batch:c:3']);
  });

  test('a restored batcher forwards what it held at its stored due time', async () => {
    const first = setupBatch({ maxSize: 10, maxWaitMs: 100 });
    first.add('k', 7);
    await first.net.settle();
    const again = setupBatch({ maxSize: 10, maxWaitMs: 100 }, first.b.getPersistedSnapshot());
    const timers = again.ctx().timers;
    expect(Object.values(timers).map((t) => t.dueAt)).toEqual([1_000_100]);
    await again.net.advance(100);
    expect(again.got()).toEqual([]); // the restored actor's own `after` is not re-armed (xstate#5331)
    again.b.send(Object.values(timers)[0]!.event); // what the runtime sends at dueAt (a restored `after` is not re-armed: xstate#5331)
    await again.net.settle();
    expect(again.got()).toEqual(['batch:k:7']);
  });

  test('bad settings are refused naming the field', () => {
    for (const [input, field] of [
      [{ target: '', maxSize: 1, maxWaitMs: 1 }, 'batcher.target'], [{ target: 't', maxSize: 0, maxWaitMs: 1 }, 'batcher.maxSize'],
      [{ target: 't', maxSize: 2, maxWaitMs: 0.5 }, 'batcher.maxWaitMs'], [{ target: 't', maxSize: 2, maxWaitMs: 5, batchType: '' }, 'batcher.batchType'],
    ] as const) {
      const actor = createActor(batcher, { input: input as never });
      let error: unknown;
      actor.subscribe({ error: (e) => void (error = e) });
      actor.start();
      expect((error as InvalidConfigError).field).toBe(field);
    }
  });
});

describe('a batcher as a Troupe actor', () => {
  test('batches delivered items for a durable target across a restart of its node, each item once', async () => {
    const { createManualClock, createSystem } = await import('../../../src/index.js');
    const { advance, sharedMemoryDurability } = await import('../../fixtures/system.js');
    const clock = createManualClock(0);
    const durability = await sharedMemoryDurability();
    const first = await createSystem({ name: 'emb', clock, logLevel: 'silent', durability });
    first.register('batcher', batcher);
    const b = first.spawn<typeof batcher>('batcher', { id: 'embed', durable: true, input: { target: 'emb/embedder', maxSize: 4, maxWaitMs: 500 } });
    for (const id of ['d1', 'd2', 'd1']) await b.deliver({ type: 'batch.add', key: 'small', id, item: { id } });
    expect(await b.ask({ type: 'batch.status' })).toEqual({ open: [{ key: 'small', size: 2, dueAt: 500 }], batches: 0, items: 0, repeats: 1 });
    await first.shutdown();

    const second = await createSystem({ name: 'emb', clock, logLevel: 'silent', durability });
    second.register('batcher', batcher);
    second.register('sink', sink);
    const embedder = second.spawn('sink', { id: 'embedder' });
    expect(await second.recover()).toEqual(['emb/embed']);
    await second.lookup<typeof batcher>('emb/embed').deliver({ type: 'batch.add', key: 'small', id: 'd3', item: { id: 'd3' } });
    await advance(clock, 500); // the due time stored before the restart
    const got = await embedder.waitFor((s) => (s as { context: { got: BatchMessage[] } }).context.got.length === 1);
    expect((got as { context: { got: BatchMessage[] } }).context.got).toEqual([{ type: 'batch', key: 'small', items: [{ id: 'd1' }, { id: 'd2' }, { id: 'd3' }] }]);
    await second.shutdown();
  });
});
