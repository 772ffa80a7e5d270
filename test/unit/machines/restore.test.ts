import { describe, expect, test } from 'vitest';
import { createActor, SimulatedClock, type AnyActorLogic } from 'xstate';
import { RetryableError } from '../../../src/errors.js';
import { escrow, pendingTimers, step, workflow, type TraceEntry } from '../../../machines/index.js';
import { createNet, pathOf } from './harness.js';

/** What the durable runtime does on recovery: restore the snapshot, then reschedule its timers from their due times. */
function recover(logic: AnyActorLogic, persisted: unknown, clock: SimulatedClock) {
  const snapshot = JSON.parse(JSON.stringify(persisted));
  const actor = createActor(logic, { snapshot, clock });
  const trace: TraceEntry[] = [];
  const path: string[] = [];
  actor.on('troupe.trace', (e: { entry: TraceEntry }) => trace.push(e.entry));
  actor.subscribe((s) => { const p = pathOf(s.value as never); if (path.at(-1) !== p) path.push(p); });
  actor.start();
  path.push(pathOf(actor.getSnapshot().value as never));
  for (const timer of pendingTimers(actor.getSnapshot())) {
    clock.setTimeout(() => actor.send(timer.event), Math.max(0, timer.dueAt - clock.now()));
  }
  return { actor, trace, path: () => [...new Set(path)] };
}

const settle = async () => { for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r)); };

describe('snapshots round-trip through JSON (issue 3)', () => {
  test('an attempt running when the snapshot was taken runs again after the restore with recovered: true (issue 13)', async () => {
    const runs: Array<{ attempt: number; recovered: boolean | undefined }> = [];
    let hang = true;
    const wf = workflow('w', {
      steps: [step('charge', async ({ attempt, recovered }) => {
        runs.push({ attempt, recovered });
        if (hang) return new Promise(() => {}); // the process "dies" mid-attempt
        return 'charged';
      })],
    });
    const clock = new SimulatedClock();
    const first = createActor(wf, { input: { workflowId: 'o-1' }, clock });
    first.start();
    await settle();
    const persisted = first.getPersistedSnapshot();
    first.stop();
    hang = false;
    const { actor } = recover(wf, persisted, clock);
    await settle();
    expect(runs).toEqual([{ attempt: 1, recovered: undefined }, { attempt: 1, recovered: true }]);
    expect(actor.getSnapshot().output).toMatchObject({ status: 'completed', results: { charge: 'charged' } });
  });

  test('restored mid-retry, the workflow keeps its backoff deadline, attempt count and idempotency key, and finishes', async () => {
    const calls: Array<{ attempt: number; key: string }> = [];
    const wf = workflow('w', {
      steps: [
        step('prep', async () => 'p'),
        step('charge', async ({ attempt, idempotencyKey }) => {
          calls.push({ attempt, key: idempotencyKey });
          if (attempt === 1) throw new RetryableError('timeout talking to the PSP');
          return 'charged';
        }, { retry: { initialInterval: 10_000, jitter: 0 } }),
      ],
    });
    const net = createNet();
    const first = net.add('w', wf, { input: { workflowId: 'order-5' } });
    await net.settle();
    await net.advance(4_000);
    expect(first.getSnapshot().value).toEqual({ charge: 'retrying' });
    const persisted = first.getPersistedSnapshot();
    net.remove('w');
    expect(pendingTimers(persisted)).toEqual([
      { dueAt: 1_000_000 + 10_000, purpose: 'retry', event: { type: 'troupe.timer', key: 'charge:retry' } },
    ]);

    const clock = new SimulatedClock();
    clock.set(1_000_000 + 4_000);
    const restored = recover(wf, persisted, clock);
    clock.increment(5_999);
    await settle();
    expect(calls).toHaveLength(1);
    clock.increment(1);
    await settle();
    expect(calls).toEqual([{ attempt: 1, key: 'order-5/charge' }, { attempt: 2, key: 'order-5/charge' }]);
    expect(restored.path()).toEqual(['charge.retrying', 'charge.running', 'completed']);
    expect(restored.actor.getSnapshot().output).toMatchObject({ status: 'completed', results: { prep: 'p', charge: 'charged' } });
    expect(restored.trace.map((e) => `${e.step}:${e.from}->${e.to}(${e.outcome}) attempt ${e.attempt}`)).toEqual([
      'charge:retrying->running(started) attempt 2', 'charge:running->done(succeeded) attempt 2', ':running->completed(completed) attempt 0',
    ]);
  });

  test('a restored timer fires once even if both the runtime and a late timer deliver it', async () => {
    const wf = workflow('w', { steps: [step('a', async ({ attempt }) => { if (attempt === 1) throw new RetryableError('x'); return attempt; }, { retry: { initialInterval: 1_000, jitter: 0 } })] });
    const net = createNet();
    const first = net.add('w', wf);
    await net.settle();
    const clock = new SimulatedClock();
    clock.set(net.clock.now());
    const restored = recover(wf, first.getPersistedSnapshot(), clock);
    clock.increment(1_000);
    restored.actor.send({ type: 'troupe.timer', key: 'a:retry' });
    await settle();
    expect(restored.actor.getSnapshot().output).toMatchObject({ results: { a: 2 } });
  });

  test('restored while running, the attempt starts again with the same attempt number (at-least-once)', async () => {
    const calls: number[] = [];
    let release: (v: string) => void = () => {};
    const wf = workflow('w', { steps: [step('a', ({ attempt }) => { calls.push(attempt); return new Promise<string>((r) => { release = r; }); })] });
    const net = createNet();
    const first = net.add('w', wf);
    await net.settle();
    const persisted = first.getPersistedSnapshot();
    net.remove('w');
    const restored = recover(wf, persisted, new SimulatedClock());
    await settle();
    release('done');
    await settle();
    expect(calls).toEqual([1, 1]);
    expect(restored.actor.getSnapshot().output).toMatchObject({ results: { a: 'done' } });
  });

  test('an escalated step and the escrow both survive a restore, and the SLA deadline still fires', async () => {
    const wf = workflow('w', { escrow: 'esc', steps: [step('a', async () => ({ confidence: 0.1 }), { minConfidence: 0.5, escalation: { tier: 'customer-facing' } })] });
    const net = createNet();
    const queue = net.add('esc', escrow);
    const run = net.add('w', wf);
    await net.settle();
    await net.advance(60_000);
    const clock = new SimulatedClock();
    clock.set(net.clock.now());
    const q = recover(escrow, queue.getPersistedSnapshot(), clock);
    const w = recover(wf, run.getPersistedSnapshot(), clock);
    expect(w.path()).toEqual(['a.escalated']);
    clock.increment(4 * 60_000);
    await settle();
    expect(q.trace.map((e) => e.outcome)).toEqual(['sla-breached']);
    w.actor.send({ type: 'escrow.approved', itemId: 'w/a/1', output: { confidence: 1, edited: true } });
    await settle();
    expect(w.actor.getSnapshot().output).toMatchObject({ results: { a: { edited: true } } });
  });

  test('a snapshot holds each output once: handoffs are rebuilt from results, not copied per step', async () => {
    const wf = workflow('w', { steps: Array.from({ length: 10 }, (_, i) => step(`s${i}`, async () => 'x'.repeat(1_000))) });
    const net = createNet();
    const actor = net.add('w', wf);
    await net.settle();
    expect(actor.getSnapshot().status).toBe('done');
    // (A finished workflow's snapshot also carries its output, which is `results` once more.)
    const size = JSON.stringify((actor.getPersistedSnapshot() as unknown as { context: unknown }).context).length;
    expect(size).toBeGreaterThan(10_000);
    expect(size).toBeLessThan(14_000); // the outputs once, plus each step's small record
  });
});
