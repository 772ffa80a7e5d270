/**
 * The `troupe` CLI against a running system (issue 10): the commands run as spawned processes (dist/cli/troupe.js)
 * against a node on a real nats-server — `nodes`, `escrow list|approve`, `trace`, `dlq list`, `run` — with their output and
 * exit codes asserted: 0 done, 1 refused (one line naming why), 2 a usage error (the message, then the usage), and
 * `--help` on every command. Tables are box-drawn (cli/table.ts) and read back cell by cell.
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

/** Runs the CLI with its stdout and stderr piped (not a TTY), as a script or a log would. */
function troupe(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return troupeWith({}, ...args);
}
function troupeWith(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 30_000, env: { ...process.env, TROUPE_NATS_URL: '', TROUPE_SYSTEM: '', ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
const on = () => ['--nats', server.url, '--system', 'clisys'];

/** The rows of a box-drawn table (`│ a │ b │` lines), each as its trimmed cells; the header is the first. */
function tableRows(text: string): string[][] {
  return text.split('\n').filter((line) => line.startsWith('│')).map((line) => line.slice(1, -1).split('│').map((cell) => cell.trim()));
}

describe('troupe CLI against a running system (issue 10)', () => {
  it('nodes lists the hosting node; --json is machine-readable', async () => {
    const json = await troupe('nodes', ...on(), '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ node: 'host-1', hosting: true, shards: [0, 1] })]);
    const text = await troupe('nodes', ...on());
    const rows = tableRows(text.stdout);
    expect(rows[0]).toEqual(['node', 'host:pid', 'actors', 'shards', 'heartbeat']);
    expect(rows.slice(1)).toEqual([['host-1', expect.stringMatching(/:\d+$/), expect.stringMatching(/^\d+$/), '0,1', expect.stringMatching(/^\d+ ms ago$/)]]);
  });

  it('ps lists the running actors of every node with their active state; a prefix narrows it', async () => {
    const other = await createSystem({ name: 'clisys', nodeId: 'host-2', logLevel: 'silent', nats: { servers: server.url, shards: 2, hostsDurable: false } });
    try {
      other.spawn(other.register('counter', counterMachine, { version: 1 }), { id: 'tally' });
      const json = await troupe('ps', ...on(), '--json');
      expect(json.code).toBe(0);
      const actors = JSON.parse(json.stdout) as Array<{ address: string; node: string; value: string; status: string; durable: boolean }>;
      expect(actors.map((a) => [a.address, a.node])).toEqual([['clisys/escrow', 'host-1'], ['clisys/tally', 'host-2'], ['clisys/ticket-1', 'host-1']]);
      expect(actors.find((a) => a.address === 'clisys/ticket-1')).toMatchObject({ value: 'draft.escalated', status: 'active', durable: false });
      const text = await troupe('ps', 'clisys/t', ...on());
      const [header, ...rows] = tableRows(text.stdout);
      expect(header).toEqual(['address', 'logic', 'state', 'status', 'cell', 'durable', 'queued', 'node']);
      expect(rows).toEqual([
        ['clisys/tally', 'counter', expect.stringMatching(/\S/), 'active', 'running', 'no', '0', 'host-2'],
        ['clisys/ticket-1', 'review', 'draft.escalated', 'active', 'running', 'no', '0', 'host-1'],
      ]);
      expect(text.stdout).not.toContain('clisys/escrow');
      const extra = await troupe('ps', 'a', 'b', ...on());
      expect(extra.code).toBe(2);
      expect(extra.stderr).toMatch(/^troupe ps: too many arguments/);
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
    const traced = tableRows(trace.stdout);
    expect(traced[0]).toEqual(['+ms', 'kind', 'step', 'attempt', 'from', 'to', 'outcome']);
    expect(traced).toContainEqual([expect.stringMatching(/^\d+$/), 'escrow', 'draft', '0', expect.any(String), 'approved', 'approved']);
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
    // Off a terminal: no spinner, no escape codes (a colour-capable TERM and no CI, where ora would colour its marks
    // into the pipe), and on stdout the lines that stay, one per step's end or retry, then the output.
    const colourful = { TERM: 'xterm-256color', CI: undefined, NO_COLOR: undefined, FORCE_COLOR: undefined };
    const ran = await troupeWith(colourful, 'run', 'greet', '--input', '{"name":"ana"}', '--id', 'g1', ...on());
    expect({ code: ran.code, stderr: ran.stderr }).toEqual({ code: 0, stderr: '' });
    expect(ran.stdout).not.toMatch(/\u001b\[/);
    const lines = ran.stdout.split('\n');
    expect(lines.slice(0, 5)).toEqual([
      'started clisys/g1',
      '✔ hello succeeded',
      '⚠ wave attempt 1 failed: arm stuck; retrying in 10 ms',
      '✔ wave succeeded (attempt 2)',
      'g1: completed',
    ]);
    expect(JSON.parse(lines.slice(5).join('\n'))).toMatchObject({ status: 'completed', results: { hello: 'hello ana', wave: 'waved' } });

    // --json: one JSON document on stdout and nothing else, though this run retries too.
    tries = 0;
    const json = await troupe('run', 'greet', '--input', '{"name":"bo"}', '--id', 'g1-json', '--json', ...on());
    expect({ code: json.code, stderr: json.stderr }).toEqual({ code: 0, stderr: '' });
    expect(json.stdout).toMatch(/^\{.*\}\n$/);
    expect(JSON.parse(json.stdout)).toMatchObject({ workflowId: 'g1-json', output: { status: 'completed', results: { hello: 'hello bo' } } });

    const notJson = await troupe('run', 'greet', '--input', '{nope', ...on());
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/^troupe run: option '--input <json>' argument '\{nope' is invalid\. Not JSON/);
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

  it('usage errors exit 2 with the message, then the usage; an unreachable server exits 1 with one line', async () => {
    const noSystem = await troupe('nodes');
    expect(noSystem).toEqual({
      code: 2,
      stdout: '',
      stderr: 'troupe nodes: --nats and --system (or TROUPE_NATS_URL and TROUPE_SYSTEM) name the running system\nusage: troupe nodes [options]  (troupe nodes --help for details)\n',
    });
    // An unknown option: one line naming it, then the usage.
    const unknown = await troupe('nodes', ...on(), '--bogus');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.split('\n').filter((line) => line.includes('--bogus'))).toEqual(["troupe nodes: unknown option '--bogus'"]);
    expect(unknown.stderr).toMatch(/^usage: troupe nodes \[options\]/m);
    expect(unknown.stdout).toBe('');
    // Missing arguments, values commander or the command refuses: none of them reaches the server.
    const cases: Array<[string[], RegExp]> = [
      [['trace', ...on()], /^troupe trace: missing required argument 'workflow-id'\nusage: troupe trace \[options\] <workflow-id>/],
      [['run', ...on()], /^troupe run: missing required argument 'logic'\n/],
      [['start'], /^troupe start: missing required argument 'file'\n/],
      [['dlq', 'bogus', ...on()], /^troupe dlq: .*'bogus' is invalid for argument 'action'\. Allowed choices are list, replay\.\n/],
      [['dlq', 'list', '--limit', '0', ...on()], /^troupe dlq: option '--limit <n>' argument '0' is invalid\. Expected an integer >= 1\.\n/],
      [['dlq', 'replay', ...on()], /^troupe dlq: dlq replay needs a dead letter's sequence/],
      [['run', 'greet', '--timeout', 'soon', ...on()], /^troupe run: option '--timeout <ms>' argument 'soon' is invalid/],
      [['escrow', 'reject', 'ticket-1/draft/1', ...on()], /^troupe escrow: escrow reject needs --by <your name>/],
      [['bogus'], /^troupe: unknown command 'bogus'\n/],
    ];
    for (const [args, message] of cases) {
      const result = await troupe(...args);
      expect({ args, code: result.code, stdout: result.stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(result.stderr).toMatch(message);
      expect(result.stderr).toMatch(/^usage: troupe .*--help for details\)$/m);
    }

    // Both wait out the connection attempt (seconds): side by side.
    const [down, verbose] = await Promise.all([
      troupe('nodes', '--nats', 'nats://127.0.0.1:1', '--system', 'clisys'),
      troupe('nodes', '--nats', 'nats://127.0.0.1:1', '--system', 'clisys', '--verbose'),
    ]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^troupe nodes: .*\n$/);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(verbose.code).toBe(1);
    expect(verbose.stderr.trim().split('\n')).toEqual([down.stderr.trim(), expect.stringMatching(/^  cause: \S/)]);
  });

  it('--help on the program and on every command exits 0 and names the command\'s arguments and options', async () => {
    const named: Record<string, readonly string[]> = {
      inspect: ['--port <n>', '--host <address>', '--latency <ms>', '--nats <url>', '--system <name>'],
      start: ['<file>', '--nats <url>', '--system <name>', '--node <id>', '--no-inspection'],
      nodes: ['--nats <url>', '--system <name>', '--json', '--verbose'],
      ps: ['[prefix]', '--nats <url>', '--system <name>', '--json', '--verbose'],
      escrow: ['<action> [item]', '"list", "approve", "reject", "retry"', '--by <name>', '--reason <text>', '--escrow <address>', '--json', '--verbose'],
      dlq: ['<action> [seq]', '"list", "replay"', '--limit <n>', '--nats <url>', '--json', '--verbose'],
      trace: ['<workflow-id>', '--nats <url>', '--json', '--verbose'],
      run: ['<logic>', '--input <json>', '--id <workflow-id>', '--timeout <ms>', '--nats <url>', '--json', '--verbose'],
    };
    for (const [command, flags] of Object.entries(named)) {
      const help = await troupe(command, '--help');
      expect({ command, code: help.code, stderr: help.stderr }).toEqual({ command, code: 0, stderr: '' });
      expect(help.stdout).toMatch(new RegExp(`^Usage: troupe ${command} \\[options\\]`));
      for (const flag of flags) expect(help.stdout, `troupe ${command} --help names ${flag}`).toContain(flag);
    }
    const program = await troupe('--help');
    expect({ code: program.code, stderr: program.stderr }).toEqual({ code: 0, stderr: '' });
    for (const command of Object.keys(named)) expect(program.stdout).toMatch(new RegExp(`^  ${command} \\[options\\]`, 'm'));
    expect(program.stdout).toContain('Exit codes: 0 done, 1 failed, 2 usage error.');
    // `troupe` alone is `troupe --help`; `troupe help <command>` is `troupe <command> --help`.
    expect(await troupe()).toEqual(program);
    expect(await troupe('help', 'run')).toEqual(await troupe('run', '--help'));
  });
});
