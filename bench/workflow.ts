/**
 * Group `workflow` (issue 3): a 10-step workflow of trivial async steps, run by Troupe's workflow machine
 * (retry policy, durable-timer bookkeeping, handoff measurement, execution trace) on the embedded default
 * runtime, against a hand-written raw XState machine of ten states each invoking the same `fromPromise` step,
 * with no retry, trace or handoff logic.
 *
 *   workflow.c1_per_s                    workflows/s through the runtime, one at a time
 *   workflow.c50_per_s                   workflows/s through the runtime, 50 in flight
 *   workflow.vs_raw_xstate_c50           raw time / runtime time at concurrency 50, median of per-round ratios (goal >= 0.5)
 *   workflow.machine_vs_raw_xstate_c50   raw time / machine-alone time (`createActor`, no runtime) at c50, same rounds
 *   workflow.step_overhead_us            extra µs per step of the runtime over the raw machine (median, c50)
 *
 * "Through the runtime": each workflow is a Troupe actor spawned under a supervisor of an embedded system
 * (`createSystem`, memory transport), its trace entries go to the runtime's trace store, and its completion is
 * seen through `ref.subscribe` (status 'done'); the supervisor removes and stops it. The system lives across
 * rounds, so the trace store is in its steady state (bounded, oldest workflows dropped).
 *
 * Each round runs raw, runtime and machine-alone in turn (A B C A B C ...; the DESIGN method with two
 * candidates sharing each baseline run), after a warm-up; every run is timed until its last workflow finished.
 */
import { createActor, fromPromise, setup, toPromise, type AnyActorLogic } from 'xstate';
import { step, workflow } from '../machines/index.js';
import { createSystem, type SupervisorRef, type TroupeSystem } from '../src/index.js';
import { median, nowMs, report } from './harness.js';

const STEPS = 10;
const C1_RUNS = 1_000;
const C50_RUNS = 5_000;
const ROUNDS = 5;

const trivial = async (n: number): Promise<number> => n + 1;

const troupe = workflow('bench', {
  steps: Array.from({ length: STEPS }, (_, i) => step(`s${i}`, async ({ attempt }) => trivial(attempt))),
});

const raw = setup({
  actors: { step: fromPromise(async ({ input }: { input: number }) => trivial(input)) },
}).createMachine({
  id: 'raw',
  initial: 's0',
  states: Object.fromEntries([
    ...Array.from({ length: STEPS }, (_, i) => [`s${i}`, { invoke: { src: 'step', input: i, onDone: i === STEPS - 1 ? 'done' : `s${i + 1}` } }]),
    ['done', { type: 'final' }],
  ]),
});

type Run = (total: number, concurrency: number) => Promise<number>;

/** Runs `total` workflows, at most `concurrency` in flight; returns the ms until the last one finished. */
async function lanes(total: number, concurrency: number, one: (n: number) => Promise<void>): Promise<number> {
  let started = 0;
  const start = nowMs();
  const lane = async (): Promise<void> => {
    while (started < total) await one(started++);
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return nowMs() - start;
}

/** A logic run with `createActor` directly (the raw baseline, and the Troupe machine without the runtime). */
function direct(logic: AnyActorLogic, traced: boolean): Run {
  return async (total, concurrency) => {
    let entries = 0;
    const elapsed = await lanes(total, concurrency, async (n) => {
      const actor = createActor(logic, { input: { workflowId: `w${n}` } });
      // Without the runtime the trace goes nowhere: count it so the emit is not dead code.
      if (traced) actor.on('troupe.trace', () => void entries++);
      actor.start();
      await toPromise(actor);
    });
    if (traced && entries < total * STEPS) throw new Error(`trace incomplete: ${entries}`);
    return elapsed;
  };
}

/** Workflows spawned as Troupe actors under a supervisor; done when the actor's snapshot is 'done'. */
function throughRuntime(system: TroupeSystem, sup: SupervisorRef): Run {
  let batch = 0;
  return async (total, concurrency) => {
    const prefix = `b${batch++}-`;
    const elapsed = await lanes(total, concurrency, (n) => new Promise<void>((resolve, reject) => {
      const id = `${prefix}w${n}`;
      const ref = system.spawn<typeof troupe>('bench-workflow', { id, parent: sup, input: { workflowId: id, address: `${sup.address}/${id}` } });
      // Steps are asynchronous, so the workflow cannot finish before this subscription is in place.
      ref.subscribe((snapshot) => {
        if (snapshot.status === 'done') resolve();
        else if (snapshot.status === 'error') reject(new Error(`workflow ${id} failed`));
      });
    }));
    const last = await system.trace(`${prefix}w${total - 1}`);
    if (last.length < STEPS || last.at(-1)?.['outcome'] !== 'completed') throw new Error(`trace incomplete: ${last.length} entries`);
    if (sup.children().length !== 0) throw new Error(`${sup.children().length} workflow actors left under the supervisor`);
    return elapsed;
  };
}

interface Rounds {
  raw: number[];
  runtime: number[];
  machine: number[];
}

/** Warm-up, then `ROUNDS` rounds of raw, runtime, machine-alone in turn. */
async function rounds(total: number, concurrency: number, runs: { raw: Run; runtime: Run; machine: Run }): Promise<Rounds> {
  await runs.raw(total, concurrency);
  await runs.runtime(total, concurrency);
  await runs.machine(total, concurrency);
  const out: Rounds = { raw: [], runtime: [], machine: [] };
  for (let i = 0; i < ROUNDS; i++) {
    out.raw.push(await runs.raw(total, concurrency));
    out.runtime.push(await runs.runtime(total, concurrency));
    out.machine.push(await runs.machine(total, concurrency));
  }
  return out;
}

const ratio = (baseline: number[], candidate: number[]): number => median(candidate.map((c, i) => (baseline[i] ?? NaN) / c));

export async function run(): Promise<void> {
  const system = await createSystem({ name: 'benchworkflow', logLevel: 'silent' });
  try {
    system.register('bench-workflow', troupe);
    const sup = system.supervisor('workflows');
    const runs = { raw: direct(raw, false), runtime: throughRuntime(system, sup), machine: direct(troupe, true) };

    const c1 = await rounds(C1_RUNS, 1, runs);
    report('workflow', 'c1_per_s', C1_RUNS / (median(c1.runtime) / 1_000), 'workflows/s');

    const c50 = await rounds(C50_RUNS, 50, runs);
    report('workflow', 'c50_per_s', C50_RUNS / (median(c50.runtime) / 1_000), 'workflows/s');
    report('workflow', 'vs_raw_xstate_c50', ratio(c50.raw, c50.runtime), 'ratio');
    report('workflow', 'machine_vs_raw_xstate_c50', ratio(c50.raw, c50.machine), 'ratio');
    const overheads = c50.runtime.map((t, i) => ((t - (c50.raw[i] ?? t)) * 1_000) / (C50_RUNS * STEPS));
    report('workflow', 'step_overhead_us', median(overheads), 'us');
  } finally {
    await system.shutdown();
  }
}

// Run directly (`tsx bench/workflow.ts`) as well as through the bench runner.
if (import.meta.url === `file://${process.argv[1]}`) void run();
