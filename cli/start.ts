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
import { parseArgs } from 'node:util';
import { createSystem, type TroupeSystem } from '../src/index.js';
import { UsageError } from './remote.js';

export const START_USAGE = 'troupe start <system file> [--nats <url>] [--system <name>] [--node <id>] [--no-inspection]   run a node of the system the file sets up';

type Setup = (system: TroupeSystem) => unknown;

export async function start(args: string[], out: (text: string) => void): Promise<TroupeSystem> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { nats: { type: 'string' }, system: { type: 'string' }, node: { type: 'string' }, 'no-inspection': { type: 'boolean', default: false } }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\nusage: ${START_USAGE}`);
  }
  const [file] = parsed.positionals;
  if (!file) throw new UsageError(`start needs the system file\nusage: ${START_USAGE}`);
  const module = (await import(pathToFileURL(resolve(file)).href)) as { default?: unknown; setup?: unknown; name?: unknown };
  const setup = (typeof module.default === 'function' ? module.default : module.setup) as Setup | undefined;
  if (typeof setup !== 'function') throw new UsageError(`${file} exports no setup function (default or \`setup\`)\nusage: ${START_USAGE}`);
  const name = parsed.values.system ?? (typeof module.name === 'string' ? module.name : undefined) ?? process.env['TROUPE_SYSTEM'];
  if (!name) throw new UsageError(`the system's name: --system, TROUPE_SYSTEM, or \`export const name\` in ${file}\nusage: ${START_USAGE}`);
  const url = parsed.values.nats ?? process.env['TROUPE_NATS_URL'];
  // On NATS the node publishes its inspection records, so `troupe inspect --nats` on any machine shows it live.
  const inspection = url && !parsed.values['no-inspection'] ? { inspection: { publish: true } } : {};
  const system = await createSystem({ name, ...(parsed.values.node ? { nodeId: parsed.values.node } : {}), ...(url ? { nats: { servers: url } } : {}), ...inspection });
  await setup(system);
  const restored = await system.recover();
  out(`node ${(await system.nodes()).find((n) => n.hosting)?.node ?? ''} of system ${name} running${url ? ` on ${url}` : ' (embedded)'}; ${restored.length} durable actor(s) restored; Ctrl-C to stop\n`);
  return system;
}
