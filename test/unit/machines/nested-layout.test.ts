/**
 * A workflow stored by Troupe 0.1 (steps under a compound `active`) restores into the flat chart of today and
 * finishes: the fixture is a real persisted snapshot of that version (see its `origin`), not one rebuilt here.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { createActor, toPromise } from 'xstate';
import { parallel, step, workflow } from '../../../machines/index.js';

const fixture = JSON.parse(readFileSync(new URL('../../fixtures/workflow-0.1-snapshot.json', import.meta.url), 'utf8')) as {
  snapshot: { value: unknown; children: Record<string, unknown> };
  timers: Array<{ id: string; event: { type: string }; dueAt: number }>;
};

/** The same definition as the one that wrote the fixture; the restored attempts finish now. */
function legacy(runs: string[]) {
  return workflow('legacy', {
    steps: [
      step('first', async () => 'one'),
      parallel([
        step('slow', async ({ recovered }) => (runs.push(`slow recovered=${String(recovered)}`), 'two')),
        step('flaky', async ({ attempt }) => (runs.push(`flaky ${attempt}`), 'fixed')),
      ], { id: 'both' }),
      step('last', async () => 'three'),
    ],
  });
}

describe('restoring a workflow of the 0.1 layout (steps under `active`)', () => {
  test('its value, running attempt and retry timer resume in the flat chart, and it completes', async () => {
    expect(fixture.snapshot.value).toEqual({ active: { both: { slow: 'running', flaky: 'retrying' } } });
    const runs: string[] = [];
    const machine = legacy(runs);
    const actor = createActor(machine, { snapshot: structuredClone(fixture.snapshot) as never });
    actor.start();
    expect(actor.getSnapshot().value).toEqual({ both: { slow: expect.any(String), flaky: 'retrying' } });
    // The running attempt's promise actor was restored under the state's new id, so its result is taken.
    await new Promise((r) => setTimeout(r, 20));
    expect(runs).toEqual(['slow recovered=true']);
    expect(actor.getSnapshot().value).toEqual({ both: { slow: 'done', flaky: 'retrying' } });

    // The stored timer still names the state by its 0.1 id: as stored, no transition takes it.
    const [stored] = fixture.timers;
    expect(stored!.event.type).toBe('xstate.after.flaky:retry.legacy.active.both.flaky.retrying');
    actor.send(stored!.event);
    expect(actor.getSnapshot().value).toEqual({ both: { slow: 'done', flaky: 'retrying' } });
    // Renamed as the durable runtime renames it on recovery, it ends the backoff.
    const timer = machine.troupeRestoreTimer(stored as never);
    expect(timer).toMatchObject({ id: 'xstate.after.flaky:retry.legacy.both.flaky.retrying', event: { type: 'xstate.after.flaky:retry.legacy.both.flaky.retrying' }, dueAt: stored!.dueAt });
    actor.send(timer.event);
    const output = await toPromise(actor);
    expect(runs).toEqual(['slow recovered=true', 'flaky 2']);
    expect(output).toMatchObject({ status: 'completed', results: { first: 'one', slow: 'two', flaky: 'fixed', last: 'three' } });
  });

  test('a snapshot of the flat chart, and a top-level step named active, are restored as they are', async () => {
    const runs: string[] = [];
    const wf = workflow('w', { steps: [step('active', async ({ recovered }) => (runs.push(`recovered=${recovered === true}`), new Promise(() => {})))] });
    const first = createActor(wf, { input: { workflowId: 'w-1' } });
    first.start();
    await Promise.resolve(); // its attempt starts a microtask after the state was entered
    const persisted = first.getPersistedSnapshot() as unknown as { value: unknown };
    expect(persisted.value).toEqual({ active: 'running' });
    first.stop();
    const again = createActor(wf, { snapshot: persisted as never });
    again.start();
    expect(again.getSnapshot().value).toEqual({ active: 'running' });
    await Promise.resolve();
    // The running step's attempt runs again, once (its state is `active.running`, not a 0.1 nesting).
    expect(runs).toEqual(['recovered=false', 'recovered=true']);
    const timer = { id: 'xstate.after.active:retry.w.active.retrying', event: { type: 'xstate.after.active:retry.w.active.retrying' }, dueAt: 1 };
    expect(wf.troupeRestoreTimer(timer)).toBe(timer);
    again.stop();
  });
});
