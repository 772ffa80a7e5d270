/**
 * `troupe start <system file> [--nats <url>] [--system <name>] [--node <id>]` (issue 10): runs a node of a system. The
 * file is an ES module whose default export (or `setup` export) receives the system and registers its logics (and
 * spawns what it starts with); the node then hosts its share of the durable actors (`recover()`) and runs until
 * SIGINT or SIGTERM, when it shuts down cleanly (its shards go to the other nodes at once). Without `--nats` (or
 * TROUPE_NATS_URL) it runs on the embedded default. On NATS it publishes its inspection records for `troupe inspect
 * --nats` (`--no-inspection`: it does not).
 *
 *   // support.mjs
 *   export const name = 'support';
 *   export default (system) => { system.register('reply', replyWorkflow, { version: 1 }); };
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createSystem, type TroupeSystem } from '../src/index.js';
import { UsageError } from './exit.js';
import type { ConnectionOptions } from './options.js';

export interface StartOptions extends ConnectionOptions {
  readonly node?: string;
  /** False with `--no-inspection`. */
  readonly inspection: boolean;
}

type Setup = (system: TroupeSystem) => unknown;

export async function start(file: string, options: StartOptions, out: (text: string) => void): Promise<TroupeSystem> {
  const module = (await import(pathToFileURL(resolve(file)).href)) as { default?: unknown; setup?: unknown; name?: unknown };
  const setup = (typeof module.default === 'function' ? module.default : module.setup) as Setup | undefined;
  if (typeof setup !== 'function') throw new UsageError(`${file} exports no setup function (default or \`setup\`)`);
  // The flag, then the file's own name, then the environment: a file written for one system starts that system.
  const name = options.system ?? (typeof module.name === 'string' ? module.name : undefined) ?? process.env['TROUPE_SYSTEM'];
  if (!name) throw new UsageError(`the system's name: --system, TROUPE_SYSTEM, or \`export const name\` in ${file}`);
  const url = options.nats ?? process.env['TROUPE_NATS_URL'];
  // On NATS the node publishes its inspection records, so `troupe inspect --nats` on any machine shows it live.
  const inspection = url && options.inspection ? { inspection: { publish: true } } : {};
  const system = await createSystem({ name, ...(options.node ? { nodeId: options.node } : {}), ...(url ? { nats: { servers: url } } : {}), ...inspection });
  let restored;
  try {
    await setup(system);
    restored = await system.recover();
  } catch (error) {
    await system.shutdown({ timeoutMs: 2_000 }); // so the process exits with the failure instead of running on
    throw error;
  }
  out(`node ${(await system.nodes()).find((n) => n.hosting)?.node ?? ''} of system ${name} running${url ? ` on ${url}` : ' (embedded)'}; ${restored.length} durable actor(s) restored; Ctrl-C to stop\n`);
  return system;
}
