/**
 * The `troupe` CLI against a running system (issue 10): the commands run as spawned processes (dist/cli/troupe.js)
 * against a node on a real nats-server — `nodes`, `escrow list|approve`, `trace`, `dlq list` — with their output and
 * exit codes asserted: 0 done, 1 refused (one line naming why), 2 a usage error.
 */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSystem, RetryableError, type TroupeSystem } from '../../src/index.js';
import { escrow, step, workflow, type WorkflowOutput } from '../../machines/index.js';
import { counterMachine } from '../fixtures/machines.js';
import { until } from '../fixtures/chaos.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

const CLI = fileURLToPath(new URL('../../dist/cli/troupe.js', import.meta.url));
const SYSTEM_FILE = fileURLToPath(new URL('../fixtures/cli-system.mjs', import.meta.url));
let server: NatsServer;
let host: TroupeSystem;
let output: WorkflowOutput | undefined;

beforeAll(async () => {
  server = await startNatsServer();
  host = await createSystem({ name: 'clisys', nodeId: 'host-1', logLevel: 'silent', nats: { servers: server.url, shards: 2 } });
  host.spawn(host.register('escrow', escrow, { version: 1 }), { id: 'escrow' });
  host.register('counter', counterMachine, { version: 1 });
  await host.recover();
  let calls = 0;
  const wf = workflow('review', {
    steps: [step('draft', async () => ({ text: 'hi', confidence: ++calls === 1 ? 0.2 : 0.95 }), { minConfidence: 0.9 }), step('send', async ({ context }) => context)],
  });
  const run = host.spawn(host.register('review', wf, { version: 1 }), { id: 'ticket-1' });
  run.subscribe((s) => void (output = (s as { output?: WorkflowOutput }).output));
  await until(10_000, 'the item waits', async () => (await host.escrow().list()).length > 0 || undefined);
});
afterAll(async () => {
  await host?.shutdown();
  await server?.cleanup();
});

function troupe(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 30_000, env: { ...process.env, TROUPE_NATS_URL: '', TROUPE_SYSTEM: '' } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
const on = () => ['--nats', server.url, '--system', 'clisys'];

describe('troupe CLI against a running system (issue 10)', () => {
  it('nodes lists the hosting node; --json is machine-readable', async () => {
    const json = await troupe('nodes', ...on(), '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ node: 'host-1', hosting: true, shards: [0, 1] })]);
    const text = await troupe('nodes', ...on());
    expect(text.stdout).toMatch(/^node\s+host:pid\s+actors\s+shards/m);
    expect(text.stdout).toContain('host-1');
  });

  it('ps lists the running actors of every node with their active state; a prefix narrows it', async () => {
    const other = await createSystem({ name: 'clisys', nodeId: 'host-2', logLevel: 'silent', nats: { servers: server.url, shards: 2, hostsDurable: false } });
    try {
      other.spawn(other.register('counter', counterMachine, { version: 1 }), { id: 'tally' });
      const json = await troupe('ps', ...on(), '--json');
      expect(json.code).toBe(0);
      const actors = JSON.parse(json.stdout) as Array<{ address: string; node: string; value: string; status: string; durable: boolean }>;
      expect(actors.map((a) => [a.address, a.node])).toEqual([['clisys/escrow', 'host-1'], ['clisys/tally', 'host-2'], ['clisys/ticket-1', 'host-1']]);
      expect(actors.find((a) => a.address === 'clisys/ticket-1')).toMatchObject({ value: 'active.draft.escalated', status: 'active', durable: false });
      const text = await troupe('ps', 'clisys/t', ...on());
      expect(text.stdout).toMatch(/^address\s+logic\s+state\s+status\s+cell\s+durable\s+queued\s+node$/m);
      expect(text.stdout).toMatch(/^clisys\/tally\s+counter\s+\S+\s+active\s+running\s+no\s+0\s+host-2$/m);
      expect(text.stdout).toMatch(/^clisys\/ticket-1\s+review\s+active\.draft\.escalated\s+active\s+running\s+no\s+0\s+host-1$/m);
      expect(text.stdout).not.toContain('clisys/escrow');
      expect((await troupe('ps', 'a', 'b', ...on())).code).toBe(2);
    } finally {
      await other.shutdown();
    }
  });

  it('escrow list shows the waiting item; approve decides it with the decider named; the workflow completes', async () => {
    const listed = await troupe('escrow', 'list', ...on(), '--json');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ id: 'ticket-1/draft/1', workflowId: 'ticket-1' })]);
    const missingBy = await troupe('escrow', 'approve', 'ticket-1/draft/1', ...on());
    expect(missingBy.code).toBe(2);
    expect(missingBy.stderr).toContain('--by');
    const approved = await troupe('escrow', 'approve', 'ticket-1/draft/1', '--by', 'ana', ...on());
    expect({ code: approved.code, stdout: approved.stdout }).toEqual({ code: 0, stdout: 'ticket-1/draft/1: approved\n' });
    await until(10_000, 'the workflow completes', () => output?.status === 'completed' || undefined);
    const again = await troupe('escrow', 'approve', 'ticket-1/draft/1', '--by', 'ana', ...on());
    expect(again.code).toBe(1);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toContain('ticket-1/draft/1');

    const trace = await troupe('trace', 'ticket-1', ...on());
    expect(trace.code).toBe(0);
    expect(trace.stdout).toMatch(/escrow\s+draft\s+\d+\s+\S+\s+\S+\s+approved/);
    const traceJson = JSON.parse((await troupe('trace', 'ticket-1', ...on(), '--json')).stdout) as { kind: string; detail?: { by?: string } }[];
    expect(traceJson.find((e) => e.kind === 'escrow' && e.detail?.by === 'ana')).toBeDefined();
  });

  it('dlq list shows a durable message that could not be applied', async () => {
    host.spawn('counter', { id: 'c', durable: true });
    await host.lookup('clisys/c').deliver({ type: 'no-such-event' });
    await until(10_000, 'the dead letter is stored', async () => (await host.deadLetters.list()).length > 0 || undefined);
    const listed = await troupe('dlq', 'list', ...on(), '--json');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ address: 'clisys/c', reason: 'unhandled event type no-such-event' })]);
  });

  it('run starts a durable workflow on the hosting node, shows its steps as they happen and prints its output', async () => {
    let tries = 0;
    const greet = workflow('greet', {
      steps: [
        step('hello', async ({ input }) => `hello ${(input as { name: string }).name}`),
        step('wave', async () => { if (++tries === 1) throw new RetryableError('arm stuck'); return 'waved'; }, { retry: { initialInterval: 10, jitter: 0 } }),
      ],
    });
    host.register('greet', greet, { version: 1 });
    const ran = await troupe('run', 'greet', '--input', '{"name":"ana"}', '--id', 'g1', ...on());
    expect(ran.code).toBe(0);
    const lines = ran.stdout.split('\n');
    expect(lines[0]).toBe('started clisys/g1');
    expect(lines).toContain('  hello succeeded');
    expect(lines).toContain('  wave retrying: arm stuck');
    expect(lines).toContain('  wave succeeded (attempt 2)');
    expect(ran.stdout).toContain('g1: completed');
    expect(ran.stdout).toContain('"hello": "hello ana"');
    expect((await troupe('run', 'greet', '--input', '{nope', ...on())).code).toBe(2);
  });

  it('start runs a node of the system a file sets up; run starts a workflow there; SIGTERM stops it cleanly', async () => {
    const node = spawn(process.execPath, [CLI, 'start', SYSTEM_FILE, '--nats', server.url, '--node', 'started-1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    node.stdout!.on('data', (chunk: Buffer) => void (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => node.once('exit', (code) => resolve(code)));
    try {
      await until(20_000, 'the node runs', () => stdout.includes('running') || undefined);
      expect(stdout).toContain('node started-1 of system clistart running on');
      const ran = await troupe('run', 'greet', '--input', '{"name":"bo"}', '--id', 'g2', '--nats', server.url, '--system', 'clistart');
      expect(ran.code).toBe(0);
      expect(ran.stdout).toContain('"hello": "hello bo"');
    } finally {
      node.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect((await troupe('start', 'no-such-file.mjs', '--nats', server.url)).code).toBe(1);
    expect((await troupe('start')).code).toBe(2);
  });

  it('usage errors exit 2 with the usage; an unreachable server exits 1 with one line', async () => {
    const noSystem = await troupe('nodes');
    expect(noSystem.code).toBe(2);
    expect(noSystem.stderr).toContain('usage: troupe nodes');
    expect((await troupe('dlq', 'bogus', ...on())).code).toBe(2);
    expect((await troupe('nodes', ...on(), '--bogus')).code).toBe(2);
    const down = await troupe('nodes', '--nats', 'nats://127.0.0.1:1', '--system', 'clisys');
    expect(down.code).toBe(1);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect((await troupe('--help')).stdout).toContain('troupe escrow list|approve|reject|retry');
  });
});
