/**
 * `troupe inspect --nats <url> --system <name>` (issue 10): the inspector attached to a running system from another
 * process. A node started by `troupe start` publishes its inspection records; the inspector (a client node that
 * hosts nothing) streams them to a browser client under the node's name, draws the node's statechart on request,
 * and shows the workflow it runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../fixtures/chaos.js';
import { connectInspectorClient } from '../fixtures/inspector-client.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

const CLI = fileURLToPath(new URL('../../dist/cli/troupe.js', import.meta.url));
const SYSTEM_FILE = fileURLToPath(new URL('../fixtures/cli-system.mjs', import.meta.url));
let server: NatsServer;
const children: ChildProcess[] = [];

beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await server?.cleanup();
});

function start(args: string[]): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TROUPE_NATS_URL: '', TROUPE_SYSTEM: '' } });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => void (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => void (out += chunk.toString()));
  return { child, out: () => out, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

describe('troupe inspect against a running system (issue 10)', () => {
  it('streams a started node\'s actors to a browser client under the node\'s name; SIGTERM stops it cleanly', async () => {
    const node = start(['start', SYSTEM_FILE, '--nats', server.url, '--node', 'worker-1']);
    await until(20_000, 'the node runs', () => node.out().includes('running') || undefined);
    const inspector = start(['inspect', '--nats', server.url, '--system', 'clistart']);
    const url = new URL(await until(20_000, 'the inspector URL', () => /open\s+(http:\/\/\S+)/.exec(inspector.out())?.[1]));
    expect(inspector.out()).toContain('Troupe inspector for the running system "clistart"');

    const ui = await connectInspectorClient(url);
    try {
      // A workflow run on the started node shows up in the remote inspector, from that node.
      const ran = start(['run', 'greet', '--input', '{"name":"ana"}', '--id', 'g-inspect', '--nats', server.url, '--system', 'clistart']);
      expect(await ran.exited).toBe(0);
      const fromWorker = () => ui.seen.filter((m) => (m as { node?: string }).node === 'worker-1');
      const mentions = (address: string) => fromWorker().some((m) => JSON.stringify(m).includes(address));
      await until(20_000, "the worker's records reach the inspector's client", () => mentions('clistart/g-inspect') || undefined);
    } finally {
      ui.close();
      inspector.child.kill('SIGTERM');
      node.child.kill('SIGTERM');
    }
    expect(await inspector.exited).toBe(0);
    expect(await node.exited).toBe(0);
  }, 60_000);

  it('a usage error exits 2 naming what is missing or wrong, then the usage', async () => {
    const missing = start(['inspect', '--system', 'clistart']);
    expect(await missing.exited).toBe(2);
    expect(missing.out()).toMatch(/^troupe inspect: --nats and --system .*\nusage: troupe inspect \[options\]/);
    const port = start(['inspect', '--nats', server.url, '--system', 'clistart', '--port', '70000']);
    expect(await port.exited).toBe(2);
    expect(port.out()).toMatch(/^troupe inspect: option '--port <n>' argument '70000' is invalid\. Expected an integer from 0 to 65535\.\n/);
    const latency = start(['inspect', '--latency', 'fast']);
    expect(await latency.exited).toBe(2);
    expect(latency.out()).toMatch(/^troupe inspect: option '--latency <ms>' argument 'fast' is invalid/);
  });
});
