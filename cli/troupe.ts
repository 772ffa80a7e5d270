#!/usr/bin/env node
/**
 * The `troupe` command.
 *   troupe inspect [--port <n>] [--host 127.0.0.1] [--latency <ms>]
 *     starts the demo support system (examples/support-workflow.ts) with the inspector attached and prints
 *     the URL, token included; runs until interrupted. New tickets arrive every few seconds.
 *   troupe start <system file>               a node of the system the file sets up (cli/start.ts)
 *   troupe inspect --nats <url> --system <name>   the inspector attached to a running system (a client node)
 *   troupe nodes | ps | escrow | dlq | trace | run   against a running system over NATS (cli/remote.ts)
 * Exit codes: 0 done, 1 a failure (one line; `--verbose` adds the cause), 2 a usage error.
 */
import { parseArgs } from 'node:util';
import { createSupportScenario, DEMO_TICKETS } from '../examples/support-workflow.js';
import { startInspector } from '../inspector/index.js';
import { connectTo, REMOTE_USAGE, runRemote, UsageError } from './remote.js';
import { start, START_USAGE } from './start.js';

const INSPECT_RUNNING_USAGE = 'troupe inspect --nats <url> --system <name> [--port <n>]          the inspector for a running system (every publishing node)';

const USAGE = `usage: troupe <command>

commands:
  inspect [--port <n>] [--host <loopback>] [--latency <ms>]   the demo system with the inspector (browser UI)
  ${INSPECT_RUNNING_USAGE.replace('troupe ', '')}
  ${START_USAGE.replace('troupe ', '')}
  ${Object.values(REMOTE_USAGE).join('\n  ')}

--nats and --system default to TROUPE_NATS_URL and TROUPE_SYSTEM. Exit codes: 0 done, 1 failed, 2 usage error.
`;

async function inspect(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' }, latency: { type: 'string', default: '400' }, nats: { type: 'string' }, system: { type: 'string' } },
  });
  const port = Number(values.port);
  const latencyMs = Number(values.latency);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new UsageError('--port must be an integer between 0 and 65535');
  if (!Number.isFinite(latencyMs) || latencyMs < 0) throw new UsageError('--latency must be a number of milliseconds >= 0');
  if (values.nats || values.system || process.env['TROUPE_NATS_URL']) return inspectRunning(values, port, values.host);
  const scenario = await createSupportScenario({ latencyMs, logLevel: 'warn' });
  const inspector = await startInspector({ system: scenario.system, port, host: values.host });
  process.stdout.write(`Troupe inspector for system "${scenario.system.name}"\n  open  ${inspector.url}\n  XState apps (@statelyai/inspect): ${inspector.statelyUrl}\n  Ctrl-C to stop\n`);
  scenario.startDemoTickets();
  // A new ticket now and then, alternating the demo's two paths, so there is always something to watch.
  let n = 100;
  const variants = Object.values(DEMO_TICKETS);
  const timer = setInterval(() => {
    const input = variants[n % variants.length]!;
    scenario.startTicket(`ticket-${n++}`, input);
  }, 15_000);
  const stop = async () => {
    clearInterval(timer);
    await inspector.close();
    await scenario.system.shutdown();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

/**
 * The inspector for a running system: a client node of it (it hosts nothing) whose inspector shows every node that
 * publishes its inspection records (`troupe start` nodes do), draws any node's statecharts and decides its escrow items.
 */
async function inspectRunning(values: { nats?: string | undefined; system?: string | undefined }, port: number, host: string): Promise<void> {
  const system = await connectTo(values, INSPECT_RUNNING_USAGE, 'warn');
  const inspector = await startInspector({ system, port, host, cluster: true });
  const live = (await system.nodes()).filter((n) => n.node !== system.node);
  process.stdout.write(`Troupe inspector for the running system "${system.name}" (${live.length} other node(s))\n  open  ${inspector.url}\n  Ctrl-C to stop\n`);
  const stop = async () => {
    await inspector.close();
    await system.shutdown();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'inspect':
      try {
        await inspect(rest);
      } catch (error) {
        process.stderr.write(`troupe inspect: ${(error as Error).message}\n`);
        process.exitCode = error instanceof UsageError ? 2 : 1;
      }
      return;
    case 'start':
      try {
        const system = await start(rest, (text) => process.stdout.write(text));
        const stop = () => void system.shutdown().finally(() => process.exit(0));
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      } catch (error) {
        process.stderr.write(`troupe start: ${(error as Error).message}\n`);
        process.exitCode = error instanceof UsageError ? 2 : 1;
      }
      return;
    case 'nodes':
    case 'ps':
    case 'escrow':
    case 'dlq':
    case 'trace':
    case 'run':
      try {
        process.exitCode = await runRemote(command, rest, (text) => process.stdout.write(text));
      } catch (error) {
        if (error instanceof UsageError) {
          process.stderr.write(`troupe ${command}: ${error.message}\n`);
          process.exitCode = 2;
        } else {
          const verbose = rest.includes('--verbose');
          const cause = (error as Error).cause;
          process.stderr.write(`troupe ${command}: ${(error as Error).message}${verbose && cause ? `\n  cause: ${String((cause as Error).message ?? cause)}` : ''}\n`);
          process.exitCode = 1;
        }
      }
      return;
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(`troupe: unknown command ${JSON.stringify(command)}\n${USAGE}`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`troupe: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
