/**
 * Group `durable` (issue 4): durable ten-step workflows on NATS JetStream (its own nats-server on a free loopback
 * port, one node, file storage, R1), against the raw floor of the same work — the same ten trivial steps, each
 * followed by one awaited KV put of a payload the size of Troupe's own snapshot at that step.
 *
 *   durable.c1_per_s              durable workflows/s, one at a time
 *   durable.c1_p50_ms             a durable workflow's latency one at a time, spawn to persisted 'done' (median)
 *   durable.floor_c1_p50_ms       the floor's latency per workflow one at a time (median), beside it
 *   durable.c50_per_s             durable workflows/s, 50 in flight
 *   durable.vs_kv_floor_c50       floor time / Troupe time at concurrency 50, median of per-pair ratios (goal >= 0.6)
 *   durable.vs_tuned_kv_floor_c50 the same against a floor whose client has Troupe's own connection settings
 *                                 (`noAsyncTraces`: nats.js then builds no Error per request to keep the caller's
 *                                 stack), measured in the same rounds: the stricter comparison, reported beside it
 *   durable.writes_per_workflow   KV operations (snapshot and finished buckets: puts and the delete of a finished
 *                                 actor's active record) + mailbox stream appends per completed workflow (sequence
 *                                 counts over the c50 rounds; checked against durabilityStats(): writes, appends and deletes)
 *   durable.recovery_ms           from spawning a restarted node's process to its first resumed step, median of 10
 *
 * A workflow counts as finished when `ref.result()` resolves, which is when its 'done' record is stored (the
 * hosting node resolves it from its own write), as the floor's last put is awaited. Method per DESIGN (Benchmarks):
 * warm-up, 5 rounds alternating floor and Troupe, the median of per-pair ratios.
 *
 * `node dist/bench/durable.js --recovery-worker <url>` is the restarted node of `recovery_ms`; BENCH_VERBOSE=1 prints
 * the c50 round times on stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm, KvWatchInclude, type KV } from '@nats-io/kv';
import { createSystem, type TroupeSystem } from '../src/index.js';
import { decodeRecord } from '../src/durable/durable-record.js';
import { step, workflow } from '../machines/index.js';
import { gc, median, nowMs, paired, report } from './harness.js';
import { startServer } from './nats-server.js';

const STEPS = 10;
const C1_RUNS = 150;
const C50_RUNS = 1_000;
const RECOVERIES = 10;
const SYSTEM = 'bench';

const trivial = async (n: number): Promise<number> => n + 1;

const benchWorkflow = (stepFn: (i: number) => Promise<unknown>) =>
  workflow('bench', { steps: Array.from({ length: STEPS }, (_, i) => step(`s${i}`, () => stepFn(i))) });

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---- Troupe: durable workflows, finished when their 'done' record is persisted --------------------------------

let round = 0;

/** Per-workflow latencies of the c1 rounds, ms (pushed by runTroupe and runFloor when given an array). */
async function runTroupe(system: TroupeSystem, total: number, concurrency: number, latencies?: number[]): Promise<number> {
  const prefix = `r${++round}`;
  let started = 0;
  gcIfExposed();
  const start = nowMs();
  const lane = async (): Promise<void> => {
    while (started < total) {
      const id = `${prefix}-${started++}`;
      const address = `${SYSTEM}/${id}`;
      const spawnedAt = nowMs();
      await system.spawn('bench', { id, durable: true, input: { workflowId: id, address } }).result();
      latencies?.push(nowMs() - spawnedAt);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return nowMs() - start;
}

/** The same ten steps, each followed by one awaited KV put of Troupe's snapshot size at that step. */
async function runFloor(bucket: KV, payloads: readonly Uint8Array[], total: number, concurrency: number, latencies?: number[]): Promise<number> {
  const prefix = `f${++round}`;
  let started = 0;
  gcIfExposed();
  const start = nowMs();
  const lane = async (): Promise<void> => {
    while (started < total) {
      const key = `${prefix}.${started++}`;
      const startedAt = nowMs();
      for (let i = 0; i < STEPS; i++) {
        await trivial(i);
        await bucket.put(key, payloads[i]!);
      }
      latencies?.push(nowMs() - startedAt);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return nowMs() - start;
}

function gcIfExposed(): void {
  if ((globalThis as { gc?: unknown }).gc) gc();
}

/** Troupe's record sizes after each step: one workflow whose steps take long enough for a write each. */
async function calibrate(url: string): Promise<number[]> {
  const system = await createSystem({ name: 'benchcal', nats: { servers: url }, logLevel: 'silent' });
  system.register('bench', benchWorkflow(async (i) => (await sleep(20), i + 1)), { version: 1 });
  await system.recover(); // a hosting node: it holds the shards, so its spawns start here
  const nc = await connect({ servers: url });
  const bucket = await new Kvm(nc).open('troupe_benchcal_snapshots');
  const sizes: number[] = [];
  const iter = await bucket.watch({ key: 'benchcal.cal', include: KvWatchInclude.UpdatesOnly });
  const finished = new Promise<void>((resolve) => {
    void (async () => {
      for await (const entry of iter) {
        // The final record goes to the finished bucket; the active one is then deleted (a DEL entry here).
        if (entry.operation !== 'PUT') {
          resolve();
          continue;
        }
        sizes.push(entry.value.byteLength);
        if (decodeRecord(new Uint8Array(entry.value)).status === 'done') resolve();
      }
    })();
  });
  system.spawn('bench', { id: 'cal', durable: true, input: { workflowId: 'cal', address: 'benchcal/cal' } });
  await finished;
  iter.stop();
  await system.shutdown();
  await nc.close();
  // Write 0 is the initial state (step 0 running); write i+1 is the state right after step i finished.
  const after = sizes.slice(1);
  return Array.from({ length: STEPS }, (_, i) => after[i] ?? after.at(-1) ?? sizes[0] ?? 1_000);
}

async function writeCounts(nc: NatsConnection): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const kv = (await jsm.streams.info(`KV_troupe_${SYSTEM}_snapshots`)).state.last_seq;
  const finished = (await jsm.streams.info(`KV_troupe_${SYSTEM}_finished`)).state.last_seq;
  const mbox = (await jsm.streams.info(`TROUPE_${SYSTEM}_MBOX`)).state.last_seq;
  return kv + finished + mbox;
}

// ---- recovery: a restarted node process, to its first resumed step ------------------------------------------

const RECOVERY_SYSTEM = 'benchrec';

/** The restarted node: recovers; the workflow's step s1 announces each start on stdout and never finishes. */
async function recoveryWorker(url: string): Promise<void> {
  const system = await createSystem({ name: RECOVERY_SYSTEM, nats: { servers: url }, logLevel: 'silent' });
  const wf = workflow('rec', {
    steps: [
      step('s0', async () => 1),
      step('s1', async ({ attempt }) => {
        process.stdout.write(`STEP s1 ${attempt}\n`);
        return new Promise(() => {});
      }),
    ],
  });
  system.register('rec', wf, { version: 1 });
  const restored = await system.recover();
  if (restored.length === 0) system.spawn('rec', { id: 'rec-1', durable: true, input: { workflowId: 'rec-1', address: `${RECOVERY_SYSTEM}/rec-1` } });
}

function startRecoveryWorker(url: string): { child: ChildProcess; step: Promise<number>; exited: Promise<void> } {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--recovery-worker', url], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const step = new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('STEP s1')) resolve(nowMs());
    });
    void exited.then(() => reject(new Error(`recovery worker exited before its first step:\n${out}`)));
    setTimeout(() => reject(new Error('recovery worker: no resumed step within 30 s')), 30_000).unref();
  });
  return { child, step, exited };
}

async function measureRecovery(url: string, nc: NatsConnection): Promise<number[]> {
  // The first process starts the workflow; once 's1 running' is persisted it is killed mid-step.
  const first = startRecoveryWorker(url);
  await first.step;
  const bucket = await new Kvm(nc).open(`troupe_${RECOVERY_SYSTEM}_snapshots`);
  for (let i = 0; ; i++) {
    const entry = await bucket.get(`${RECOVERY_SYSTEM}.rec-1`);
    if (entry?.operation === 'PUT' && JSON.stringify(decodeRecord(new Uint8Array(entry.value)).snapshot).includes('"s1":"running"')) break;
    if (i > 200) throw new Error('recovery bench: s1 running was never persisted');
    await sleep(10);
  }
  first.child.kill('SIGKILL');
  await first.exited;
  const times: number[] = [];
  for (let i = 0; i <= RECOVERIES; i++) {
    const spawnedAt = nowMs();
    const worker = startRecoveryWorker(url);
    const resumedAt = await worker.step;
    worker.child.kill('SIGKILL');
    await worker.exited;
    if (i > 0) times.push(resumedAt - spawnedAt); // the first restart is the warm-up
  }
  return times;
}

// ---- the group ----------------------------------------------------------------------------------------------

export async function run(): Promise<void> {
  const server = await startServer();
  try {
    const sizes = await calibrate(server.url);
    const payloads = sizes.map((size) => Uint8Array.from({ length: size }, (_, i) => (i * 31) & 0xff));

    const nc = await connect({ servers: server.url });
    const floor = await new Kvm(nc).create('bench_floor', { history: 1, allow_direct: true });
    const tunedNc = await connect({ servers: server.url, noAsyncTraces: true });
    const tunedFloor = await new Kvm(tunedNc).open('bench_floor');
    const system = await createSystem({ name: SYSTEM, nats: { servers: server.url }, logLevel: 'silent' });
    system.register('bench', benchWorkflow(trivial), { version: 1 });
    await system.recover(); // a hosting node: it holds the shards, so its spawns start here

    const c1Latency = { floor: [] as number[], troupe: [] as number[] };
    let measured = false; // the warm-up round's latencies are not kept
    const c1 = await paired({
      warmup: 1,
      rounds: 5,
      baseline: () => runFloor(floor, payloads, C1_RUNS, 1, measured ? c1Latency.floor : undefined),
      candidate: async () => {
        const elapsed = await runTroupe(system, C1_RUNS, 1, measured ? c1Latency.troupe : undefined);
        measured = true;
        return elapsed;
      },
    });
    report('durable', 'c1_per_s', C1_RUNS / (median(c1.candidate) / 1_000), 'workflows/s');
    report('durable', 'c1_p50_ms', median(c1Latency.troupe), 'ms');
    report('durable', 'floor_c1_p50_ms', median(c1Latency.floor), 'ms');

    await runTroupe(system, C50_RUNS, 50); // warm-up, outside the write count
    await runFloor(tunedFloor, payloads, C50_RUNS, 50); // the tuned floor's warm-up (the default floor's is its c1 rounds)
    const writesBefore = await writeCounts(nc);
    const statsBefore = system.durabilityStats();
    let workflows = 0;
    // Each Troupe round is timed right after its default floor (the pair of vs_kv_floor_c50) and before the tuned
    // floor's round (the pair of vs_tuned_kv_floor_c50): A B C A B C ...
    const tunedTimes: number[] = [];
    const c50 = await paired({
      warmup: 0,
      rounds: 5,
      baseline: () => runFloor(floor, payloads, C50_RUNS, 50),
      candidate: async () => {
        workflows += C50_RUNS;
        const elapsed = await runTroupe(system, C50_RUNS, 50);
        tunedTimes.push(await runFloor(tunedFloor, payloads, C50_RUNS, 50));
        return elapsed;
      },
    });
    const writes = (await writeCounts(nc)) - writesBefore;
    const traceMessages = (await (await jetstreamManager(nc)).streams.info(`TROUPE_${SYSTEM}_TRACE`)).state.messages;
    const stats = system.durabilityStats();
    report('durable', 'c50_per_s', C50_RUNS / (median(c50.candidate) / 1_000), 'workflows/s');
    if (process.env['BENCH_VERBOSE']) console.error(`durable c50 rounds, ms: floor ${c50.baseline.map((t) => t.toFixed(0)).join(' ')}; Troupe ${c50.candidate.map((t) => t.toFixed(0)).join(' ')}`);
    report('durable', 'vs_kv_floor_c50', c50.speedRatio, 'ratio');
    report('durable', 'vs_tuned_kv_floor_c50', median(tunedTimes.map((t, i) => t / (c50.candidate[i] ?? NaN))), 'ratio');
    report('durable', 'writes_per_workflow', writes / workflows, 'writes');
    // Records written (a finished one to the finished bucket), appends, and the deletes of active records.
    const counted = stats.snapshotWrites - statsBefore.snapshotWrites + stats.logAppends - statsBefore.logAppends + stats.snapshotDeletes - statsBefore.snapshotDeletes;
    if (Math.abs(counted - writes) > workflows * 0.01) console.error(`durable: durabilityStats counted ${counted} writes, the bucket and stream ${writes}`);
    console.error(`durable: floor sizes ${sizes.join(',')} B; Troupe ${((stats.snapshotBytes - statsBefore.snapshotBytes) / Math.max(1, stats.snapshotWrites - statsBefore.snapshotWrites)).toFixed(0)} B per write; trace stream ${traceMessages} messages`);
    await system.shutdown();

    await tunedNc.close();
    const recoveries = await measureRecovery(server.url, nc);
    report('durable', 'recovery_ms', median(recoveries), 'ms');
    await nc.close();
  } finally {
    await server.stop();
  }
}

if (process.argv[2] === '--recovery-worker') {
  void recoveryWorker(process.argv[3]!);
} else if (import.meta.url === `file://${process.argv[1]}`) {
  void run();
}
