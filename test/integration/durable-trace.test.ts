/**
 * Issue 8 end to end on a real nats-server, across processes: a worker runs a durable workflow whose snapshot
 * writes stall after the first three (so the run goes on in memory and its trace entries reach the stream while
 * the persisted record stays behind), and is killed with SIGKILL. A second worker recovers the workflow, which
 * runs the unpersisted transitions again. The test process, which never ran the workflow, then reads the trace:
 * it must equal the trace of an uninterrupted run of the same workflow (modulo times and the workflow id), each
 * entry once, in order. Runs the built worker (test/fixtures/trace-worker.mjs imports dist/).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createSystem, type TraceEntry, type TroupeSystem } from '../../src/index.js';
import { within } from '../fixtures/chaos.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

const WORKER = fileURLToPath(new URL('../fixtures/trace-worker.mjs', import.meta.url));
const SYSTEM = 'tracedemo';

interface Started {
  readonly child: ChildProcess;
  /** Resolves with the first stdout event of this type. */
  event(type: string): Promise<Record<string, unknown>>;
  readonly exited: Promise<number | null>;
  stderr(): string;
}

function startWorker(config: Record<string, unknown>): Started {
  const child = spawn(process.execPath, [WORKER, JSON.stringify({ url: server.url, system: SYSTEM, ...config })], { stdio: ['ignore', 'pipe', 'pipe'] });
  const events: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  let buffered = '';
  let errors = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.startsWith('{')) events.push(JSON.parse(line) as Record<string, unknown>);
      for (const wake of waiters.splice(0)) wake();
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (errors = (errors + chunk.toString()).slice(-4_000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    for (const wake of waiters.splice(0)) wake();
    resolve(code);
  }));
  const event = async (type: string) => {
    for (;;) {
      const found = events.find((e) => e['ev'] === type);
      if (found) return found;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`worker exited before "${type}": ${JSON.stringify(events)}\n${errors}`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return { child, event, exited, stderr: () => errors };
}

let server: NatsServer;
let reader: TroupeSystem | undefined;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await reader?.shutdown({ timeoutMs: 2_000 });
  await server?.cleanup();
});

/** An entry without what differs between runs: its times (and, across workflows, the workflow id). */
function normalized(entries: readonly TraceEntry[]): unknown[] {
  return entries.map(({ workflowId: _w, at: _at, startedAt: _s, ...rest }) => rest);
}

describe('durable trace across a kill -9 and recovery (issue 8)', () => {
  test('the trace read after recovery equals an uninterrupted run: whole history, each entry once, in order', async () => {
    const reference = startWorker({ workflowId: 'ref', mode: 'run' });
    expect(await within(30_000, 'reference run', reference.event('finished'))).toMatchObject({ status: 'completed' });
    expect(await within(15_000, 'reference exit', reference.exited)).toBe(0);

    const crashing = startWorker({ workflowId: 'crashed', mode: 'run', holdAfterPuts: 3 });
    await within(30_000, 'snapshot writes held', crashing.event('held'));
    const ranAhead = await within(30_000, 'in-memory run finished', crashing.event('finished'));
    crashing.child.kill('SIGKILL');
    await within(10_000, 'killed worker exit', crashing.exited);

    reader = await createSystem({ name: SYSTEM, nats: { servers: server.url }, logLevel: 'silent' });
    const beforeRecovery = await reader.trace('crashed');
    expect(beforeRecovery).toHaveLength(ranAhead['entries'] as number); // the crashed run's entries outlived it

    const recovering = startWorker({ workflowId: 'crashed', mode: 'recover' });
    const recovered = await within(30_000, 'recovery', recovering.event('recovered'));
    expect(await within(15_000, 'recovering worker exit', recovering.exited)).toBe(0);
    expect(recovered).toMatchObject({ restored: [`${SYSTEM}/crashed`], status: 'completed' });
    // The recovery really ran transitions again (from the stalled snapshot), emitting entries already stored.
    const rerun = recovered['local'] as TraceEntry[];
    expect(rerun.length).toBeGreaterThan(0);
    const storedTimes = new Set(beforeRecovery.map((e) => e['at']));
    expect(rerun.every((e) => !storedTimes.has(e['at']))).toBe(true);

    const expected = await reader.trace('ref');
    const actual = await reader.trace('crashed');
    expect(expected.length).toBeGreaterThan(10);
    expect(normalized(actual)).toEqual(normalized(expected));
    // The first copy of each re-run entry was kept: the history starts with the crashed process's own times.
    expect(actual.slice(0, beforeRecovery.length)).toEqual(beforeRecovery);
  }, 120_000);
});
