/**
 * Group `workflow` (issue 3): a 10-step workflow of trivial async steps, run by Troupe's workflow machine
 * (retry policy, durable-timer bookkeeping, handoff measurement, execution trace) against a hand-written raw
 * XState machine of ten states each invoking the same `fromPromise` step, with no retry, trace or handoff logic.
 *
 *   workflow.c1_per_s           workflows/s, one at a time
 *   workflow.c50_per_s          workflows/s, 50 in flight
 *   workflow.vs_raw_xstate_c50  raw time / Troupe time at concurrency 50, median of per-pair ratios (goal >= 0.5)
 *   workflow.step_overhead_us   extra µs per step over the raw machine (median of per-pair differences, c50)
 *
 * Timed until the last workflow has finished. Both run with `createActor` directly for now; the runtime
 * wrapper (mailbox, supervision, trace store) is measured by the core group.
 */
import { createActor, fromPromise, setup, toPromise, type AnyActorLogic } from 'xstate';
import { step, workflow } from '../machines/index.js';
import { median, nowMs, paired, report } from './harness.js';

const STEPS = 10;
const C1_RUNS = 1_000;
const C50_RUNS = 5_000;

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

/** Runs `total` workflows with at most `concurrency` in flight; resolves when the last one is done. */
async function runMany(logic: AnyActorLogic, total: number, concurrency: number, traced: boolean): Promise<number> {
  let started = 0;
  let entries = 0;
  const start = nowMs();
  const lane = async (): Promise<void> => {
    while (started < total) {
      const n = started++;
      const actor = createActor(logic, { input: { workflowId: `w${n}` } });
      // The trace goes somewhere in Troupe (the runtime's trace store); count it so the emit is not dead code.
      if (traced) actor.on('troupe.trace', () => void entries++);
      actor.start();
      await toPromise(actor);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const elapsed = nowMs() - start;
  if (traced && entries < total * STEPS) throw new Error(`trace incomplete: ${entries}`);
  return elapsed;
}

export async function run(): Promise<void> {
  const c1 = await paired({
    warmup: 1,
    rounds: 5,
    baseline: () => runMany(raw, C1_RUNS, 1, false),
    candidate: () => runMany(troupe, C1_RUNS, 1, true),
  });
  report('workflow', 'c1_per_s', C1_RUNS / (median(c1.candidate) / 1_000), 'workflows/s');

  const c50 = await paired({
    warmup: 1,
    rounds: 5,
    baseline: () => runMany(raw, C50_RUNS, 50, false),
    candidate: () => runMany(troupe, C50_RUNS, 50, true),
  });
  report('workflow', 'c50_per_s', C50_RUNS / (median(c50.candidate) / 1_000), 'workflows/s');
  report('workflow', 'vs_raw_xstate_c50', c50.speedRatio, 'ratio');
  const overheads = c50.candidate.map((t, i) => ((t - (c50.baseline[i] ?? t)) * 1_000) / (C50_RUNS * STEPS));
  report('workflow', 'step_overhead_us', median(overheads), 'us');
}

// Run directly (`tsx bench/workflow.ts`) as well as through the bench runner.
if (import.meta.url === `file://${process.argv[1]}`) void run();
