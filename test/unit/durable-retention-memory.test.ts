/**
 * Bounded growth on the embedded default (issue 8): a finished actor's record moves to the finished store, the
 * memory stores' revision-checked delete, and the memory log's compaction (it keeps no acked message at all).
 */
import { describe, expect, it } from 'vitest';
import { createSystem } from '../../src/index.js';
import { decodeRecord } from '../../src/durable/durable-record.js';
import { createMemoryMailboxLog } from '../../src/persistence/memory/memory-mailbox-log.js';
import { mailboxSubject } from '../../src/persistence/mailbox-log.js';
import { createMemorySnapshotStore } from '../../src/persistence/memory/memory-snapshot-store.js';
import { finishingCounter } from '../fixtures/machines.js';
import { step, workflow } from '../../machines/index.js';

/** Finishes (a final state) after 2 `inc`s; its output is what it saw. */
const counter = finishingCounter(2);

const until = async (check: () => Promise<boolean>): Promise<void> => {
  for (let i = 0; i < 200 && !(await check()); i++) await new Promise((resolve) => setTimeout(resolve, 5));
};

describe('bounded growth on the embedded default', () => {
  it('a finished record moves to the finished store; result() reads it there; recover() never sees it', async () => {
    const store = createMemorySnapshotStore();
    const finished = createMemorySnapshotStore();
    const log = createMemoryMailboxLog();
    const system = await createSystem({ name: 'mem', logLevel: 'silent', durability: { store, log, finished } });
    system.register('counter', counter);
    const ref = system.spawn<typeof counter>('counter', { id: 'c', durable: true });
    await ref.deliver({ type: 'inc', n: 1 });
    await ref.deliver({ type: 'inc', n: 2 });
    expect(await ref.result()).toEqual({ seen: [1, 2] });
    await until(async () => (await store.get('mem.c')) === undefined);
    expect(await store.keys()).toEqual([]);
    expect(decodeRecord((await finished.get('mem.c'))!.value).status).toBe('done');
    expect(await system.result('mem/c')).toEqual({ seen: [1, 2] });
    expect(await system.recover()).toEqual([]);
    // The address again: a fresh actor.
    const again = system.spawn<typeof counter>('counter', { id: 'c', durable: true });
    await again.deliver({ type: 'inc', n: 5 });
    expect(await again.ask({ type: 'get' })).toEqual([5]);
    await system.shutdown();
  });

  it('the addresses routed through the log stay bounded: a finished actor is forgotten once 10,000 finished after it', async () => {
    const system = await createSystem({ name: 'routed', logLevel: 'silent' });
    system.register('once', workflow('once', { steps: [step('a', async () => 1)] }));
    const TOTAL = 10_050;
    for (let i = 0; i < TOTAL; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, k) => system.spawn('once', { id: `w${i + k}`, durable: true }).result()));
    }
    await until(async () => system.durabilityStats().loaded === 0);
    expect(system.durabilityStats().knownAddresses).toBe(10_000);
    // The most recent finished one is still routed through the log: a late message is a durable dead letter.
    await system.lookup(`routed/w${TOTAL - 1}`).deliver({ type: 'late' });
    await until(async () => (await system.deadLetters.list()).length === 1);
    expect((await system.deadLetters.list()).map((d) => [d.subject.endsWith(`w${TOTAL - 1}`), d.reason])).toEqual([[true, 'no durable actor at this address']]);
    // The oldest is forgotten: an address this one process does not know, refused as such.
    await expect(system.lookup('routed/w0').deliver({ type: 'late' })).rejects.toThrow(/w0/);
    // Spawned again, it is known again: once finished, a late message to it is a durable dead letter again.
    const again = system.spawn('once', { id: 'w0', durable: true });
    await again.result();
    await until(async () => system.durabilityStats().loaded === 0);
    expect(system.durabilityStats().knownAddresses).toBe(10_000);
    await system.lookup('routed/w0').deliver({ type: 'late' });
    await until(async () => (await system.deadLetters.list()).length === 2);
    expect((await system.deadLetters.list()).map((d) => d.subject.endsWith('.w0'))).toEqual([false, true]);
    await system.shutdown();
  }, 60_000);

  it("the memory store's delete with a revision deletes only that revision", async () => {
    const store = createMemorySnapshotStore();
    const first = await store.put('a', new Uint8Array([1]));
    if (!first.ok) throw new Error('put failed');
    const second = await store.put('a', new Uint8Array([2]));
    if (!second.ok) throw new Error('put failed');
    await store.delete('a', first.revision);
    expect((await store.get('a'))?.revision).toBe(second.revision);
    await store.delete('a', second.revision);
    expect(await store.get('a')).toBeUndefined();
  });

  it('the memory log keeps only unacked messages: compaction has nothing to drop, and next() never returns an acked one', async () => {
    const log = createMemoryMailboxLog({ shards: 1 });
    const subject = mailboxSubject('mem', 0, 'mem/x');
    await log.append(subject, new Uint8Array([1]), 'm1');
    await log.append(subject, new Uint8Array([2]), 'm2');
    const seen: number[] = [];
    await log.consume(0, (delivery) => {
      seen.push(delivery.seq);
      if (delivery.seq === 1) delivery.ack();
    });
    await until(async () => seen.length === 2);
    expect(await log.compact()).toBe(0);
    expect((await log.next(subject, 0))?.seq).toBe(2);
    await log.close();
  });
});
