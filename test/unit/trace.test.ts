/**
 * Issue 8 without NATS: the memory trace log (contract and bounds), the stable entry id, the local store's
 * dedupe, and `system.trace()` on the embedded default and over an explicit trace log shared by two systems.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { createManualClock, createSystem, InvalidAddressError, type TroupeSystem } from '../../src/index.js';
import { createMemoryMailboxLog } from '../../src/persistence/memory/memory-mailbox-log.js';
import { createMemorySnapshotStore } from '../../src/persistence/memory/memory-snapshot-store.js';
import { createMemoryTraceLog, type MemoryTraceLog } from '../../src/persistence/memory/memory-trace-log.js';
import { TraceStore, traceEntryId, type TraceEntry } from '../../src/system/trace-store.js';
import { step, workflow } from '../../machines/index.js';
import { describeTraceLogContract } from '../contract/trace-log.case.js';

describeTraceLogContract('memory', async () => createMemoryTraceLog());

const entry = (fields: Partial<TraceEntry> & Record<string, unknown> = {}): TraceEntry => ({
  workflowId: 'w', kind: 'step', step: 'a', attempt: 1, from: 'running', to: 'done', outcome: 'succeeded', at: 1_000, ...fields,
});

describe('memory trace log bounds', () => {
  test('keeps perWorkflow entries per workflow and drops the oldest workflow first, counting both', async () => {
    const log: MemoryTraceLog = createMemoryTraceLog({ perWorkflow: 2, workflows: 2 });
    for (const id of ['a', 'b', 'c']) log.append('w1', id, new Uint8Array([1]));
    log.append('w2', 'a', new Uint8Array([2]));
    log.append('w3', 'a', new Uint8Array([3]));
    expect(log.dropped).toBe(1 + 2);
    expect(await log.read('w1')).toEqual([]);
    expect((await log.read('w3')).map((r) => r.id)).toEqual(['a']);
  });
});

describe('traceEntryId: stable across re-runs, distinct for different entries', () => {
  test('the same transition at other times (and with keys in another order) has the same id', () => {
    const first = entry({ startedAt: 900, detail: { itemId: 'w/a/1', dueAt: 5_000 } });
    const rerun = { ...entry({ at: 99_000, startedAt: 98_000 }), detail: { dueAt: 123_456, itemId: 'w/a/1' } };
    expect(traceEntryId(rerun)).toBe(traceEntryId(first));
    expect(traceEntryId(entry())).toMatch(/^step-1-[0-9a-z]{1,11}$/);
  });

  test('another attempt, outcome, step, escrow item or SLA level gives another id; the workflow id is not part of it', () => {
    const ids = [
      entry(), entry({ attempt: 2 }), entry({ outcome: 'failed' }), entry({ step: 'b' }),
      entry({ detail: { itemId: 'w/a/1' } }), entry({ detail: { itemId: 'w/a/2' } }),
      entry({ to: 'escalated', detail: { level: 1 } }), entry({ to: 'escalated', detail: { level: 2 } }),
    ].map(traceEntryId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(traceEntryId(entry({ workflowId: 'other' }))).toBe(traceEntryId(entry()));
  });

  test('the local store keeps an id once and tells the caller it was a re-run', () => {
    const store = new TraceStore();
    expect(store.append(entry())).toBe(true);
    // From an incarnation restored from a snapshot: checked against the ids of what is stored.
    expect(store.append(entry({ at: 5_000 }), undefined, true)).toBe(false);
    expect(store.append(entry({ attempt: 2 }), undefined, true)).toBe(true);
    // Once a workflow has been checked, every later entry is too.
    expect(store.append(entry({ attempt: 2, at: 9_000 }))).toBe(false);
    expect(store.get('w').map((e) => e['attempt'])).toEqual([1, 2]);
  });

  test('entries of an incarnation that started fresh are appended without a check (it emits nothing twice)', () => {
    const store = new TraceStore();
    expect(store.append(entry())).toBe(true);
    expect(store.append(entry({ at: 5_000 }))).toBe(true);
    expect(store.get('w')).toHaveLength(2);
  });
});

let systems: TroupeSystem[] = [];
afterEach(async () => {
  await Promise.all(systems.map((s) => s.shutdown({ timeoutMs: 1_000 })));
  systems = [];
});

async function settle(rounds = 30): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

const twoSteps = workflow('two', { steps: [step('a', async () => 'A'), step('b', async () => 'B')] });
// Typed entries from system.trace() (issue 13): no casts, no index access.
const outline = (entries: readonly { kind: string; step: string; from: string; to: string }[]) => entries.map((e) => `${e.kind}:${e.step}:${e.from}->${e.to}`);
const TWO_STEPS = ['handoff:a:->a', 'step:a:pending->running', 'step:a:running->done', 'handoff:b:a->b', 'step:b:pending->running', 'step:b:running->done', 'workflow::running->completed'];

describe('system.trace()', () => {
  test('on the embedded default it resolves to this process trace, and refuses an unsafe workflow id', async () => {
    const system = await createSystem({ name: 'traces', clock: createManualClock(1), logLevel: 'silent' });
    systems.push(system);
    system.register('two', twoSteps, { version: 1 });
    system.spawn('two', { id: 'w1', input: { workflowId: 'w1' } });
    await settle();
    const trace = await system.trace('w1');
    expect(outline(trace)).toEqual(TWO_STEPS);
    expect(system.localTrace('w1')).toEqual(trace);
    await expect(system.trace('w1.>')).rejects.toBeInstanceOf(InvalidAddressError);
  });

  test('over a shared trace log, a second system that re-runs the same workflow adds nothing, and a third reads the history in order', async () => {
    const traceLog = createMemoryTraceLog();
    const open = async (clockAt: number) => {
      const system = await createSystem({
        name: 'traces', clock: createManualClock(clockAt), logLevel: 'silent',
        durability: { store: createMemorySnapshotStore(), log: createMemoryMailboxLog({ shards: 2 }), trace: { kind: 'memory', append: traceLog.append, read: traceLog.read, flush: traceLog.flush, close: async () => {} } },
      });
      systems.push(system);
      system.register('two', twoSteps, { version: 1 });
      return system;
    };
    const first = await open(1_000);
    first.spawn('two', { id: 'w1', input: { workflowId: 'w1' } });
    await settle();
    const original = await first.trace('w1');
    expect(outline(original)).toEqual(TWO_STEPS);

    const second = await open(50_000); // other timestamps: the ids must not depend on them
    second.spawn('two', { id: 'w1', input: { workflowId: 'w1' } });
    await settle();
    expect(outline(second.localTrace('w1'))).toEqual(TWO_STEPS); // it did emit every entry again
    expect(second.localTrace('w1')[0]?.['at']).not.toBe(original[0]?.['at']);
    const third = await open(90_000);
    expect(await third.trace('w1')).toEqual(original);
  });
});
