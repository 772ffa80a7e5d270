/**
 * Group `reliability` (issue 11): the failure table of a chain of agents, reproduced on Troupe's own machinery, on a
 * manual clock (no sleeps) and seeded (BENCH_SEED, default 42).
 *
 * 1,000 six-step workflows (history, sentiment, inventory, draft, validate, send). Every call fails transiently with
 * probability 0.22 on its first attempt and 0.05 on later ones; the draft's provider is down for 40 s of the 200 s over which they start
 * (its circuit breaker opens and a fallback provider answers); 3% of drafts come back below the confidence threshold.
 *
 *   reliability.flat_completion     the same chain as a plain sequence: one attempt per call, no breaker, no escalation
 *   reliability.troupe_completion   retries with backoff, the breaker and its fallback, escalation of low-confidence
 *                                   drafts to a scripted person who answers within the SLA (goal >= 0.99)
 *   reliability.lost                workflows neither completed nor aborted-and-compensated (goal 0)
 *   reliability.escalated_share     workflows that waited for a person
 *   reliability.fallback_share      workflows whose draft went to the fallback provider (the breaker was open)
 *   reliability.pool_wait_p99_ms    six agents sharing one GPU slot with 2-second calls: a call's wait for the slot, p99
 */
import { createManualClock, createSystem, RetryableError, type ManualClock, type TroupeSystem } from '../src/index.js';
import { circuitBreaker, escrow, pool, step, workflow, type WorkflowOutput } from '../machines/index.js';
import { percentile, report } from './harness.js';

const WORKFLOWS = 1_000;
const STARTS_PER_SECOND = 5;
const OUTAGE = { fromMs: 60_000, toMs: 100_000 };
const TICK_MS = 100;
const SYSTEM = 'rel';

/** mulberry32 over (seed, text): one draw per call, reproducible whatever the interleaving. */
function draw(seed: number, text: string): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  let t = (h + 0x6d2b79f5) >>> 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

interface Outcomes {
  readonly completed: number;
  readonly aborted: number;
  readonly escalated: number;
  /** Workflows whose draft went to the fallback provider because the breaker was open. */
  readonly fallback: number;
}

async function settle(rounds = 8): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Runs the 1,000 workflows on a manual clock: `guarded` adds retries, the breaker, its fallback and escalation. */
async function runChain(seed: number, guarded: boolean): Promise<Outcomes> {
  const clock = createManualClock(0);
  const system = await createSystem({ name: SYSTEM, clock, logLevel: 'silent' });
  try {
    system.spawn(system.register('escrow', escrow, { version: 1 }), { id: 'escrow' });
    system.spawn(system.register('breaker', circuitBreaker, { version: 1 }), { id: 'breaker-llm', input: { target: 'llm', failureThreshold: 20, windowMs: 10_000, cooldownMs: 15_000 } });
    const call = (name: string) => async ({ idempotencyKey, attempt }: { idempotencyKey: string; attempt: number }) => {
      if (name === 'draft' && clock.now() >= OUTAGE.fromMs && clock.now() < OUTAGE.toMs) throw new RetryableError('provider outage');
      if (draw(seed, `${idempotencyKey}#${attempt}`) < (attempt === 1 ? 0.22 : 0.05)) throw new RetryableError(`${name}: transient failure`);
      if (name === 'draft') return { text: 'reply', confidence: draw(seed, `${idempotencyKey}#confidence`) < 0.03 ? 0.6 : 0.95 };
      return { ok: true };
    };
    const fallback = async ({ idempotencyKey, attempt }: { idempotencyKey: string; attempt: number }) => {
      if (draw(seed, `${idempotencyKey}#fallback#${attempt}`) < 0.05) throw new RetryableError('fallback provider: transient failure');
      return { text: 'reply (fallback provider)', confidence: 0.9 };
    };
    const retry = guarded ? { maximumAttempts: 6, initialInterval: 500, backoffCoefficient: 2, maximumInterval: 5_000 } : { maximumAttempts: 1 };
    const undo = { compensate: async () => undefined };
    const definition = workflow('reply', {
      steps: [
        step('history', call('history'), { retry, ...undo }),
        step('sentiment', call('sentiment'), { retry }),
        step('inventory', call('inventory'), { retry, ...undo }),
        step('draft', call('draft'), guarded ? { retry, breaker: `${SYSTEM}/breaker-llm`, fallback, minConfidence: 0.85 } : { retry }),
        step('validate', call('validate'), { retry }),
        step('send', call('send'), { retry }),
      ],
    });
    system.register('reply', definition, { version: 1 });
    const escalated = new Set<string>();
    const viaFallback = new Set<string>();
    const offTrace = system.onTrace((entry) => {
      if (entry.kind === 'step' && entry.outcome === 'escalated') escalated.add(entry.workflowId);
      if (entry.kind === 'step' && entry.outcome === 'breaker-open') viaFallback.add(entry.workflowId);
    });
    const outputs: Promise<WorkflowOutput>[] = [];
    let started = 0;
    let settled = 0;
    const person = system.escrow();
    for (let t = 0; settled < WORKFLOWS && t < 3_600_000; t += TICK_MS) {
      while (started < WORKFLOWS && started < Math.floor(((t + TICK_MS) / 1_000) * STARTS_PER_SECOND)) {
        const id = `w${started++}`;
        const ref = system.spawn('reply', { id, input: { workflowId: id, address: `${SYSTEM}/${id}` } });
        const output = ref.result<WorkflowOutput>();
        output.then(() => void settled++, () => void settled++);
        outputs.push(output);
      }
      clock.advance(TICK_MS);
      await settle();
      // The scripted person looks at the queue every second and approves what waits (well within the SLA).
      if (t % 1_000 === 0) for (const item of await person.list()) await person.approve(item.id, { by: 'scripted person' }).catch(() => undefined);
    }
    offTrace();
    const results = await Promise.allSettled(outputs);
    let completed = 0;
    let aborted = 0;
    for (const r of results) {
      if (r.status !== 'fulfilled') continue;
      if (r.value.status === 'completed' && r.value.skipped.length === 0) completed++;
      else if (r.value.status === 'aborted') aborted++;
    }
    return { completed, aborted, escalated: escalated.size, fallback: viaFallback.size };
  } finally {
    await system.shutdown();
  }
}

/** Six agents, one GPU slot, 2-second calls: each call's wait for the slot, ms. */
async function poolWaits(): Promise<number[]> {
  const clock: ManualClock = createManualClock(0);
  const system: TroupeSystem = await createSystem({ name: 'relpool', clock, logLevel: 'silent' });
  try {
    system.spawn(system.register('pool', pool, { version: 1 }), { id: 'gpu', input: { capacity: 1, leaseMs: 600_000 } });
    const gpuCall = async () => new Promise<number>((resolve) => clock.setTimeout(() => resolve(1), 2_000));
    const agent = workflow('agent', { steps: Array.from({ length: 10 }, (_, i) => step(`call${i}`, gpuCall, { uses: ['relpool/gpu'] })) });
    system.register('agent', agent, { version: 1 });
    const waitingSince = new Map<string, number>();
    const waits: number[] = [];
    system.onTrace((entry) => {
      if (entry.kind !== 'step') return;
      const key = `${entry.workflowId}/${entry.step}/${entry.attempt}`;
      if (entry.outcome === 'waiting-for-resources') waitingSince.set(key, entry.at);
      else if (entry.outcome === 'started' && waitingSince.has(key)) waits.push(entry.at - waitingSince.get(key)!);
    });
    const refs = Array.from({ length: 6 }, (_, i) => system.spawn('agent', { id: `agent${i}`, input: { workflowId: `agent${i}`, address: `relpool/agent${i}` } }));
    let done = 0;
    for (const ref of refs) void ref.result().then(() => void done++);
    for (let t = 0; done < refs.length && t < 3_600_000; t += TICK_MS) {
      clock.advance(TICK_MS);
      await settle();
    }
    return waits;
  } finally {
    await system.shutdown();
  }
}

export async function run(): Promise<void> {
  const seed = Number(process.env['BENCH_SEED'] ?? 42);
  const flat = await runChain(seed, false);
  const guarded = await runChain(seed, true);
  report('reliability', 'flat_completion', flat.completed / WORKFLOWS, 'ratio');
  report('reliability', 'troupe_completion', guarded.completed / WORKFLOWS, 'ratio');
  report('reliability', 'lost', WORKFLOWS - guarded.completed - guarded.aborted, 'workflows');
  report('reliability', 'aborted_compensated', guarded.aborted, 'workflows');
  report('reliability', 'escalated_share', guarded.escalated / WORKFLOWS, 'ratio');
  report('reliability', 'fallback_share', guarded.fallback / WORKFLOWS, 'ratio');
  const waits = await poolWaits();
  report('reliability', 'pool_wait_p99_ms', percentile(waits, 99), 'ms');
}
