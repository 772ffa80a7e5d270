/**
 * `troupe inspect`: the inspector (browser UI) on the demo support system, or, with `--nats`, on a running system.
 * Both run until SIGINT or SIGTERM and then exit 0.
 */
import { createSupportScenario, DEMO_TICKETS } from '../examples/support-workflow.js';
import { startInspector } from '../inspector/index.js';
import { connectTo } from './connect.js';
import type { ConnectionOptions } from './options.js';

type Output = (text: string) => void;

export interface InspectOptions {
  readonly port: number;
  readonly host: string;
  /** The demo's simulated model latency. */
  readonly latency: number;
}

/** Closes what runs, then exits 0, on the first SIGINT or SIGTERM. */
function untilSignal(close: () => Promise<void>): void {
  const stop = () => void close().finally(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/**
 * The demo support system (examples/support-workflow.ts) with the inspector attached; prints the URL, token
 * included. New tickets arrive every few seconds.
 */
export async function inspectDemo(options: InspectOptions, out: Output): Promise<void> {
  const scenario = await createSupportScenario({ latencyMs: options.latency, logLevel: 'warn' });
  const inspector = await startInspector({ system: scenario.system, port: options.port, host: options.host });
  out(`Troupe inspector for system "${scenario.system.name}"\n  open  ${inspector.url}\n  XState apps (@statelyai/inspect): ${inspector.statelyUrl}\n  Ctrl-C to stop\n`);
  scenario.startDemoTickets();
  // A new ticket now and then, alternating the demo's two paths, so there is always something to watch.
  let n = 100;
  const variants = Object.values(DEMO_TICKETS);
  const timer = setInterval(() => {
    const input = variants[n % variants.length]!;
    scenario.startTicket(`ticket-${n++}`, input);
  }, 15_000);
  untilSignal(async () => {
    clearInterval(timer);
    await inspector.close();
    await scenario.system.shutdown();
  });
}

/**
 * The inspector for a running system: a client node of it (it hosts nothing) whose inspector shows every node that
 * publishes its inspection records (`troupe start` nodes do), draws any node's statecharts and decides its escrow items.
 */
export async function inspectRunning(connection: ConnectionOptions, options: Pick<InspectOptions, 'port' | 'host'>, out: Output): Promise<void> {
  const system = await connectTo(connection, 'warn');
  const inspector = await startInspector({ system, port: options.port, host: options.host, cluster: true }).catch(async (error: unknown) => {
    await system.shutdown({ timeoutMs: 2_000 }); // a port in use, say: leave the system so the process can exit
    throw error;
  });
  const live = (await system.nodes()).filter((n) => n.node !== system.node);
  out(`Troupe inspector for the running system "${system.name}" (${live.length} other node(s))\n  open  ${inspector.url}\n  Ctrl-C to stop\n`);
  untilSignal(async () => {
    await inspector.close();
    await system.shutdown();
  });
}
