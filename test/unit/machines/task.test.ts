/**
 * A step's work runs as its state's task (machines/task.ts), not as an XState child: what the invoked promise gave
 * must still hold — the signal aborts when the state is left or the workflow stops, a late result is dropped, a
 * restored snapshot runs the attempts of its active states again (and only those), and `provide()` swaps the work.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { createActor, fromPromise, toPromise } from 'xstate';
import { parallel, sequence, step, workflow } from '../../../machines/index.js';

const never = () => new Promise<never>(() => {});
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

afterEach(() => vi.restoreAllMocks());

describe('a step runs as its state task', () => {
  test('stopping the workflow aborts the running attempt and drops its result', async () => {
    let signal: AbortSignal | undefined;
    let finish: (value: string) => void = () => {};
    const wf = workflow('w', { steps: [step('a', ({ signal: s }) => ((signal = s), new Promise<string>((resolve) => (finish = resolve))))] });
    const actor = createActor(wf, { input: { workflowId: 'w-1' } });
    const warn = vi.spyOn(console, 'warn');
    actor.start();
    await tick();
    expect(signal?.aborted).toBe(false);
    actor.stop();
    expect(signal?.aborted).toBe(true);
    finish('late');
    await tick();
    // A result sent to a stopped actor would make XState warn (development build) — none is sent.
    expect(warn).not.toHaveBeenCalled();
    expect(actor.getSnapshot().status).toBe('stopped');
  });

  test('a signal first read after its state was left (a timeout) is already aborted', async () => {
    let late: boolean | undefined;
    const wf = workflow('w', {
      steps: [step('a', async (args) => (await new Promise((resolve) => setTimeout(resolve, 60)), (late = args.signal.aborted), 'late'), { startToCloseMs: 20, retry: { maximumAttempts: 1 }, critical: false })],
    });
    const output = await toPromise(createActor(wf, { input: { workflowId: 'w-1' } }).start());
    expect(output).toMatchObject({ skipped: [{ stepId: 'a' }] });
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(late).toBe(true);
  });

  test('a step whose state is left in the turn that entered it (a cancel sent with the start) never runs', async () => {
    const runs: string[] = [];
    const wf = workflow('w', { steps: [step('a', async () => (runs.push('a'), 'done'))] });
    const actor = createActor(wf, { input: { workflowId: 'w-1' } }).start();
    actor.send({ type: 'workflow.cancel', reason: 'changed my mind' });
    expect(await toPromise(actor)).toMatchObject({ status: 'aborted' });
    await tick();
    expect(runs).toEqual([]);
  });

  test('a workflow that errors (an action throws) stops its running tasks', async () => {
    let signal: AbortSignal | undefined;
    const wf = workflow('w', {
      // The handoff to `b2` measures `b1`'s output with this tokenizer, inside the transition: the actor errors.
      tokenizer: (text) => {
        if (text.includes('boom')) throw new Error('tokenizer broke');
        return text.length;
      },
      steps: [parallel([step('a', ({ signal: s }) => ((signal = s), never())), sequence('b', [step('b1', async () => 'boom'), step('b2', async () => 'never')])])],
    });
    const actor = createActor(wf, { input: { workflowId: 'w-1' } });
    actor.subscribe({ error: () => {} });
    actor.start();
    await tick();
    await tick();
    expect(actor.getSnapshot().status).toBe('error');
    expect(signal?.aborted).toBe(true);
  });

  test('a step that never reads its signal makes no AbortController; one that does gets one', async () => {
    const Original = globalThis.AbortController;
    let made = 0;
    globalThis.AbortController = class extends Original {
      constructor() {
        super();
        made++;
      }
    };
    try {
      const quiet = workflow('q', { steps: [step('a', async () => 1), step('b', async () => 2)] });
      await toPromise(createActor(quiet, { input: { workflowId: 'q-1' } }).start());
      expect(made).toBe(0);
      const reads = workflow('r', { steps: [step('a', async ({ signal }) => signal.aborted)] });
      const output = await toPromise(createActor(reads, { input: { workflowId: 'r-1' } }).start());
      expect(output).toMatchObject({ results: { a: false } });
      expect(made).toBe(1);
    } finally {
      globalThis.AbortController = Original;
    }
  });

  test('a restored snapshot runs the attempt of its active state again, once, with recovered: true', async () => {
    const runs: string[] = [];
    const wf = workflow('w', {
      steps: [step('a', async () => 'one'), step('b', async ({ recovered, attempt }) => (runs.push(`b attempt=${attempt} recovered=${recovered === true}`), recovered ? 'two' : never()))],
    });
    const first = createActor(wf, { input: { workflowId: 'w-1' } }).start();
    await tick();
    const persisted = first.getPersistedSnapshot();
    first.stop();
    expect(runs).toEqual(['b attempt=1 recovered=false']);
    const again = createActor(wf, { snapshot: persisted as never }).start();
    expect(await toPromise(again)).toMatchObject({ status: 'completed', results: { a: 'one', b: 'two' } });
    expect(runs).toEqual(['b attempt=1 recovered=false', 'b attempt=1 recovered=true']);
  });

  test('a step left by a cancel is not run again on restore; the compensation that was running is', async () => {
    const runs: string[] = [];
    const wf = workflow('w', {
      steps: [
        step('a', async () => 'one', { compensate: async ({ recovered }) => (runs.push(`undo a recovered=${recovered === true}`), recovered ? 'undone' : never()) }),
        step('b', async ({ recovered }) => (runs.push(`b recovered=${recovered === true}`), never())),
      ],
    });
    const first = createActor(wf, { input: { workflowId: 'w-1' } }).start();
    await tick();
    first.send({ type: 'workflow.cancel', reason: 'withdrawn' });
    await tick();
    const persisted = first.getPersistedSnapshot();
    first.stop();
    expect(runs).toEqual(['b recovered=false', 'undo a recovered=false']);
    const again = createActor(wf, { snapshot: persisted as never }).start();
    expect(await toPromise(again)).toMatchObject({ status: 'aborted', compensated: ['a'] });
    expect(runs).toEqual(['b recovered=false', 'undo a recovered=false', 'undo a recovered=true']);
  });

  test('provide() swaps the work, and the provided machine restores its running attempt too', async () => {
    const wf = workflow('w', { steps: [step('fetch', async () => 'real'), step('use', async ({ context }) => context)] });
    let calls = 0;
    const stubbed = wf.provide({ actors: { 'step:fetch': fromPromise(async () => (calls++ === 0 ? never() : 'stub')) } });
    const first = createActor(stubbed, { input: { workflowId: 'w-1' } }).start();
    await tick();
    const persisted = first.getPersistedSnapshot();
    first.stop();
    const again = createActor(stubbed, { snapshot: persisted as never }).start();
    expect(await toPromise(again)).toMatchObject({ results: { fetch: 'stub', use: { fetch: 'stub' } } });
    expect(calls).toBe(2);
  });

  test('work provided as other than promise logic fails the attempt with a typed error naming it', async () => {
    const wf = workflow('w', { steps: [step('fetch', async () => 'real', { critical: false, retry: { maximumAttempts: 1 } })] });
    const odd = wf.provide({ actors: { 'step:fetch': { transition: (s: unknown) => s, getInitialSnapshot: () => ({}) } as never } });
    const output = await toPromise(createActor(odd, { input: { workflowId: 'w-1' } }).start());
    expect(output).toMatchObject({ skipped: [{ stepId: 'fetch', error: { name: 'InvalidConfigError', message: expect.stringContaining('actors.step:fetch') } }] });
  });
});
