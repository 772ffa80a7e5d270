/**
 * Shutdown (issue 2): everything stops right to left, `terminated` settles, the stopped system refuses work, no
 * timer is left behind — on the manual clock here, and with real timers in a child process that must exit by
 * itself (test/fixtures/shutdown-child.mjs, run against the built package).
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { setup } from 'xstate';
import { DeadLetterError, SystemStoppedError } from '../../src/index.js';
import { counterMachine } from '../fixtures/machines.js';
import { settle, testSystem } from '../fixtures/system.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Waits one hour on the clock with a delayed transition. */
const sleeperMachine = setup({}).createMachine({ initial: 'asleep', states: { asleep: { after: { 3_600_000: 'awake' } }, awake: {} }, on: { poke: { actions: () => {} } } });

describe('shutdown', () => {
  it('stops every actor and supervisor right to left, then settles terminated with reason shutdown', async () => {
    await using t = await testSystem();
    const counter = t.system.register('counter', counterMachine);
    const a = t.system.spawn(counter, { id: 'a' });
    const s = t.system.supervisor('s');
    const b = t.system.spawn(counter, { id: 'b', parent: s });
    const c = t.system.spawn(counter, { id: 'c', parent: s });
    const d = t.system.spawn(counter, { id: 'd' });

    await t.system.shutdown();
    expect(await t.system.terminated).toEqual({ reason: 'shutdown' });
    const order = t.events.filter((e) => e.type === 'rt.actor.stopped' || e.type === 'rt.system.shutdown').map((e) => ('address' in e ? e.address : e.type));
    expect(order).toEqual([d.address, c.address, b.address, s.address, a.address, t.system.root.address, 'rt.system.shutdown']);
  });

  it("a result still awaited rejects with SystemStoppedError; one that settled leaves no listener behind", async () => {
    await using t = await testSystem();
    const finisher = t.system.register('finisher', setup({}).createMachine({ initial: 'a', states: { a: { on: { go: 'b' } }, b: { type: 'final' } } }));
    for (let i = 0; i < 20; i++) {
      const ref = t.system.spawn(finisher, { id: `f${i}` });
      const result = ref.result();
      ref.tell({ type: 'go' });
      await result;
    }
    // Each settled result() took its termination listener off: none is kept until shutdown (a leak per call before).
    expect((t.system as unknown as { terminationListeners: Set<unknown> }).terminationListeners.size).toBe(0);
    const waiting = t.system.spawn(finisher, { id: 'waiting' }).result();
    expect((t.system as unknown as { terminationListeners: Set<unknown> }).terminationListeners.size).toBe(1);
    await t.system.shutdown();
    await expect(waiting).rejects.toBeInstanceOf(SystemStoppedError);
  });

  it('refuses work afterwards: tells and asks are dead letters, spawn and supervisor throw SystemStoppedError', async () => {
    await using t = await testSystem();
    const counter = t.system.register('counter', counterMachine);
    const a = t.system.spawn(counter, { id: 'a' });
    await t.system.shutdown();

    a.tell({ type: 'inc' });
    expect(t.system.deadLetters.recent().at(-1)).toMatchObject({ to: a.address, eventType: 'inc' });
    await expect(a.ask({ type: 'get' })).rejects.toBeInstanceOf(DeadLetterError);
    expect(() => t.system.spawn(counter, { id: 'b' })).toThrow(SystemStoppedError);
    expect(() => t.system.supervisor('s')).toThrow(SystemStoppedError);
    expect(a.getSnapshot()).toBeUndefined();
  });

  it('is idempotent', async () => {
    await using t = await testSystem();
    t.system.spawn(t.system.register('counter', counterMachine), { id: 'a' });
    await Promise.all([t.system.shutdown(), t.system.shutdown()]);
    await t.system.shutdown();
    expect(t.eventsOf('rt.system.shutdown')).toHaveLength(1);
    expect(t.eventsOf('rt.actor.stopped').filter((e) => e.address.endsWith('/a'))).toHaveLength(1);
  });

  it('lets running actors handle what is already queued, and answers waiting asks with DeadLetterError', async () => {
    await using t = await testSystem();
    const counter = t.system.spawn(t.system.register('counter', counterMachine), { id: 'c' });
    const sleeper = t.system.spawn(t.system.register('sleeper', sleeperMachine), { id: 's' });
    let last = -1;
    counter.subscribe((snapshot) => (last = snapshot.context.count));
    const waiting = sleeper.ask({ type: 'poke' }, { timeoutMs: 60_000 }).catch((error: unknown) => error);
    await settle();
    for (let i = 0; i < 3; i++) counter.tell({ type: 'inc' });
    await t.system.shutdown();
    expect(last).toBe(3);
    expect(await waiting).toBeInstanceOf(DeadLetterError);
    expect(await waiting).toMatchObject({ reason: 'actor stopped before answering' });
  });

  it('leaves no timer on the clock: delayed transitions, ask timeouts and pending restarts are all cancelled', async () => {
    await using t = await testSystem();
    const counter = t.system.register('counter', counterMachine);
    const sleeper = t.system.register('sleeper', sleeperMachine);
    const slow = t.system.supervisor('slow', { backoff: { minMs: 60_000, maxMs: 60_000, jitter: 0 } });
    const crashed = t.system.spawn(counter, { id: 'crashed', parent: slow });
    const sleepers = ['s1', 's2'].map((id) => t.system.spawn(sleeper, { id, parent: t.system.supervisor(`sup-${id}`) }));
    crashed.tell({ type: 'crash' });
    await settle();
    const asks = [sleepers[0]!.ask({ type: 'poke' }, { timeoutMs: 60_000 }), crashed.ask({ type: 'get' }, { timeoutMs: 60_000 })].map((p) =>
      p.catch((error: unknown) => error),
    );
    await settle();
    expect(t.clock.pending()).toBeGreaterThanOrEqual(5); // two `after`s, two ask timeouts, one restart

    await t.system.shutdown();
    expect(t.clock.pending()).toBe(0);
    expect(await Promise.all(asks)).toEqual([expect.any(DeadLetterError), expect.any(DeadLetterError)]);
    expect(t.eventsOf('rt.actor.restarted')).toHaveLength(0);
  });
});

describe('shutdown leaves no handles (child process, real clock)', () => {
  beforeAll(() => buildIfStale(), 180_000);

  it('exits by itself with code 0 and no active timers or immediates', async () => {
    const run = await runNode(join(root, 'test', 'fixtures', 'shutdown-child.mjs'), 15_000);
    const resultLine = run.stdout.split('\n').find((line) => line.startsWith('RESULT '));
    const result = resultLine ? (JSON.parse(resultLine.slice('RESULT '.length)) as Record<string, unknown>) : undefined;
    // Reported before the exit code so that a hang shows what kept the process alive.
    expect({ hung: run.hung, resources: result?.['resources'] }).toEqual({ hung: false, resources: expect.any(Array) });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    const resources = result!['resources'] as string[];
    expect(resources.filter((r) => r === 'Timeout' || r === 'Immediate')).toEqual([]);
    expect(result).toMatchObject({
      termination: { reason: 'shutdown' },
      asks: [
        { ok: false, name: 'DeadLetterError', reason: 'actor stopped before answering' },
        { ok: false, name: 'DeadLetterError', reason: 'actor stopped' },
      ],
    });
    expect(result!['ticks']).toBeGreaterThan(0); // the real-clock `after` loop did run before the shutdown
  }, 60_000);
});

interface NodeRun {
  readonly code: number | null;
  readonly hung: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node script`; a process still alive after `limitMs` counts as hung and is killed (never a timing assertion). */
function runNode(script: string, limitMs: number): Promise<NodeRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    let stdout = '';
    let stderr = '';
    let hung = false;
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const guard = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, hung, stdout, stderr });
    });
  });
}

/** The child process runs dist/: rebuild it when any source it compiles is newer than the build. */
function buildIfStale(): void {
  const built = join(root, 'dist', 'src', 'index.js');
  const builtAt = safeMtime(built);
  const newest = Math.max(newestMtime(join(root, 'src')), newestMtime(join(root, 'machines')));
  if (builtAt >= newest) return;
  try {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'pipe' });
  } catch (error) {
    // tsc still emits when another module has type errors; only a missing build is fatal here.
    if (safeMtime(built) < newest) throw error;
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function safeMtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}
