/**
 * Issue 4, "Durable timer": a step waiting out a 2-second retry backoff when its process is killed fires after
 * the restart not before its due time and within 1 s after it — or at once when the due time passed while the
 * process was down — and exactly once. Times are wall-clock timestamps the worker's sink recorded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { decodeRecord, type DurableRecord } from '../../src/durable/durable-record.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';
import { Sink, until, within, Worker, type WorkerConfig } from '../fixtures/chaos.js';

const BACKOFF_MS = 2_000;
/** How late a restored timer may fire (the bound). */
const LATE_MS = 1_000;

let server: NatsServer;
let nc: NatsConnection;
const workers: Worker[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
});
afterAll(async () => {
  for (const worker of workers) if (worker.running) await worker.kill9();
  await nc?.close();
  await server?.cleanup();
});

interface Attempt {
  readonly ts: number;
  readonly attempt: number;
  readonly pid: number;
}

/** The workflow's stored record, once it holds a pending timer. */
async function recordWithTimer(system: string, worker: Worker): Promise<DurableRecord> {
  // On a timeout, say what the worker was doing: its log lines and last events.
  return awaitRecordWithTimer(system, worker).catch((error: Error) => {
    throw new Error(`${error.message}\nworker events: ${JSON.stringify(worker.events.slice(-20))}\nworker output:\n${worker.output}\nnats-server output:\n${server.output}`);
  });
}

async function awaitRecordWithTimer(system: string, worker: Worker): Promise<DurableRecord> {
  // Not before the worker has created its buckets: nats-server 2.9.10 can panic (nil pointer in jsMsgGetRequest)
  // when a STREAM.MSG.GET meets a stream that is being created. The bucket is read with DIRECT.GET, as the runtime does.
  await worker.event('ready', 20_000);
  const bucket = await new Kvm(nc).open(`troupe_${system}_snapshots`, { allow_direct: true });
  return until(15_000, `a persisted timer in ${system}'s record`, async () => {
    if (!worker.running) throw new Error(`worker exited with ${String(worker.exitCode)}:\n${worker.output}`);
    const entry = await bucket.get(`${system}.wf-000`).catch(() => null);
    if (entry?.operation !== 'PUT') return undefined;
    const record = decodeRecord(new Uint8Array(entry.value));
    return record.timers.length > 0 ? record : undefined;
  }, 20);
}

/** Runs one workflow whose step s2 fails its first attempt; kills the worker during the backoff; restarts it after `downMs`. */
async function killDuringBackoff(system: string, downMs: (dueAt: number) => number) {
  const sink = await Sink.open(server.url, `sink_${system}`);
  try {
    const config: WorkerConfig = { url: server.url, system, sink: `sink_${system}`, count: 1, exitWhenDone: true, failFirst: { step: 's2', initialInterval: BACKOFF_MS } };
    const first = new Worker(config);
    workers.push(first);
    const record = await recordWithTimer(system, first);
    await first.kill9();
    const failed = await until(5_000, 'the failed first attempt in the sink', () => sink.json<{ ts: number }>('fail.wf-000.s2.1'));
    const timer = record.timers[0]!;
    const wait = downMs(timer.dueAt);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));

    const second = new Worker(config);
    workers.push(second);
    expect(await within(30_000, `the restarted worker to finish:\n${second.output}`, second.exited), second.output).toBe(0);
    const boot = await sink.json<{ recoveredAt: number }>(`boot.${second.pid}`);
    const attempts = await Promise.all((await sink.keys('att.wf-000.s2.>')).map(async (key) => (await sink.json<Attempt>(key))!));
    const summary = await sink.summary();
    return { record, timer, failedAt: failed.ts, restartedAt: second.spawnedAt, recoveredAt: boot!.recoveredAt, attempts, summary, firstPid: first.pid, secondPid: second.pid };
  } finally {
    await sink.close();
  }
}

function expectOneRetry(run: Awaited<ReturnType<typeof killDuringBackoff>>): Attempt {
  expect(run.timer.dueAt - run.failedAt).toBeGreaterThanOrEqual(BACKOFF_MS);
  expect(run.timer.dueAt - run.failedAt).toBeLessThan(BACKOFF_MS + 500);
  const byAttempt = [...run.attempts].sort((a, b) => a.ts - b.ts);
  // Attempt 1 ran once, in the killed process; the timer fired once, in the restarted one.
  expect(byAttempt.map((a) => [a.attempt, a.pid])).toEqual([[1, run.firstPid], [2, run.secondPid]]);
  expect(run.summary.errors).toEqual([]);
  expect(run.summary.done).toEqual(['wf-000']);
  expect(run.summary.effects).toBe(10);
  return byAttempt[1]!;
}

describe('durable timers across a process kill (issue 4)', () => {
  it('a 2 s retry backoff pending at a kill -9 fires after the restart at its stored due time, within 1 s, once', async () => {
    const run = await killDuringBackoff('chaostimer1', () => 0);
    const retry = expectOneRetry(run);
    console.log(`due in ${run.timer.dueAt - run.restartedAt} ms at the restart; fired ${retry.ts - run.timer.dueAt} ms after the due time`);
    expect(run.restartedAt).toBeLessThan(run.timer.dueAt); // the due time was still ahead when the process came back
    expect(retry.ts).toBeGreaterThanOrEqual(run.failedAt + BACKOFF_MS);
    expect(retry.ts).toBeGreaterThanOrEqual(run.timer.dueAt);
    expect(retry.ts).toBeLessThanOrEqual(run.timer.dueAt + LATE_MS);
  }, 60_000);

  it('a backoff that fell due while the process was down fires at once after recovery, once', async () => {
    const run = await killDuringBackoff('chaostimer2', (dueAt) => dueAt + 1_000 - Date.now());
    const retry = expectOneRetry(run);
    console.log(`restarted ${run.restartedAt - run.timer.dueAt} ms after the due time; fired ${retry.ts - run.restartedAt} ms after the process was spawned, ${retry.ts - run.recoveredAt} ms from the end of recover()`);
    expect(run.restartedAt).toBeGreaterThan(run.timer.dueAt);
    expect(retry.ts).toBeGreaterThan(run.restartedAt);
    expect(retry.ts).toBeLessThanOrEqual(run.recoveredAt + LATE_MS);
  }, 60_000);
});
