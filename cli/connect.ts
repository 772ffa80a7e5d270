/**
 * Joins a running system as a client node (`hostsDurable: false`: it takes no shards and runs nothing), for the
 * commands that talk to one and for `troupe inspect --nats`.
 */
import { createSystem, type TroupeSystem } from '../src/index.js';
import { UsageError } from './exit.js';
import type { ConnectionOptions } from './options.js';

/** The server and system `--nats` / `--system` name, else TROUPE_NATS_URL / TROUPE_SYSTEM; a UsageError if either is missing. */
export async function connectTo(options: ConnectionOptions, logLevel: 'silent' | 'warn' = 'silent'): Promise<TroupeSystem> {
  const url = options.nats ?? process.env['TROUPE_NATS_URL'];
  const name = options.system ?? process.env['TROUPE_SYSTEM'];
  if (!url || !name) throw new UsageError('--nats and --system (or TROUPE_NATS_URL and TROUPE_SYSTEM) name the running system');
  return createSystem({ name, logLevel, nats: { servers: url, hostsDurable: false, startupTimeoutMs: 5_000, connectTimeoutMs: 5_000 } });
}

/** Runs `fn` on a client node of the running system and leaves it, whatever `fn` did. */
export async function withSystem<T>(options: ConnectionOptions, fn: (system: TroupeSystem) => Promise<T>): Promise<T> {
  const system = await connectTo(options);
  try {
    return await fn(system);
  } finally {
    await system.shutdown({ timeoutMs: 2_000 });
  }
}
