/**
 * Part of the composition root: the only module that names the NATS, JetStream and KV implementations. It opens
 * the durable backends (mailbox log, snapshot store, trace log) and the node's transport: explicit ones, NATS JetStream,
 * or the in-memory embedded default.
 */
import { backoffDelay } from '../backoff.js';
import { InvalidConfigError, RetryableError, TimeoutError, toPlainError } from '../errors.js';
import { DURABLE_RETENTION_DEFAULTS } from '../durable/finished-records.js';
import type { Logger } from '../log/index.js';
import { createJetStreamMailboxLog } from '../persistence/jetstream/jetstream-mailbox-log.js';
import { createJetStreamTraceLog } from '../persistence/jetstream/jetstream-trace-log.js';
import { createKvSnapshotStore } from '../persistence/jetstream/kv-snapshot-store.js';
import { resolveNodeLeaseMs } from '../cluster/membership.js';
import type { MailboxLog } from '../persistence/mailbox-log.js';
import { createMemoryMailboxLog } from '../persistence/memory/memory-mailbox-log.js';
import { createMemorySnapshotStore } from '../persistence/memory/memory-snapshot-store.js';
import type { SnapshotStore } from '../persistence/snapshot-store.js';
import type { TraceLog } from '../persistence/trace-log.js';
import { createMemoryTransport } from '../transport/memory/memory-transport.js';
import { createNatsTransport } from '../transport/nats/nats-transport.js';
import type { Transport } from '../transport/transport.js';
import type { CreateSystemOptions } from './api.js';

export interface Backends {
  /** Active durable actors' records (the index `recover()` lists). */
  readonly store: SnapshotStore;
  /** Finished actors' records (durable/finished-records.ts); none: they stay in `store`. */
  readonly finished?: SnapshotStore;
  /** The passivated actors' index (durable/passive-index.ts); none: `recover()` reads every record. */
  readonly passiveIndex?: SnapshotStore;
  /** Compact the mailbox log after this many acked messages (MailboxLog.compact); none: never. */
  readonly purgeEvery?: number;
  readonly log: MailboxLog;
  readonly transport: Transport;
  /**
   * The nodes bucket (membership heartbeats and shard leases) and the node lease; none for the one-process memory
   * backends, whose one node consumes every shard.
   */
  readonly membership?: { readonly store: () => Promise<SnapshotStore>; readonly leaseMs: number };
  /** Where `system.journal()` keeps results already paid for (opened on first use). */
  readonly journal?: () => Promise<SnapshotStore>;
  /** The durable execution trace; undefined on the embedded default (the runtime's in-memory trace serves). */
  readonly trace?: TraceLog;
  close(): Promise<void>;
}

/** Mailbox shards when `nats.shards` is not set. */
export const DEFAULT_SHARDS = 8;

/** The durable backends: explicit ones, NATS JetStream, or the in-memory default. */
export async function openBackends(options: CreateSystemOptions, logger: Logger): Promise<Backends> {
  if (options.durability) {
    const { store, log, trace, finished, passiveIndex } = options.durability;
    const transport = createMemoryTransport();
    return {
      store,
      log,
      transport,
      ...(trace ? { trace } : {}),
      ...(finished ? { finished } : {}),
      ...(passiveIndex ? { passiveIndex } : {}),
      close: async () => void (await Promise.all([trace?.close(), log.close(), store.close(), finished?.close(), passiveIndex?.close(), transport.close()])),
    };
  }
  if (options.nats) {
    const { replicas, shards, startupTimeoutMs, nodeLeaseMs, hostsDurable: _hostsDurable, trace: traceLimits, duplicateWindowMs, retention, deadLetters, ...connection } = options.nats;
    const memberLeaseMs = resolveNodeLeaseMs(nodeLeaseMs);
    const { finishedMs, purgeEvery } = resolveRetention(retention);
    // A server that is starting, busy or electing a JetStream leader answers slowly or not at all for a while:
    // opening retries transient failures (bounded), a wrong setting still fails at once.
    const retry = <T>(what: string, open: () => Promise<T>) => withStartupRetry(what, open, startupTimeoutMs ?? 30_000, logger).catch((error: unknown) => {
      throw permissionError(error, options.name) ?? error;
    });
    const transport = await retry('connect', () => createNatsTransport(connection));
    const store = await retry('open the snapshot bucket', () =>
      createKvSnapshotStore(transport.connection, { bucket: `troupe_${options.name}_snapshots`, ...(replicas ? { replicas } : {}) }),
    ).catch(async (error: unknown) => {
      await transport.close();
      throw error;
    });
    const finished = await retry('open the finished bucket', () =>
      createKvSnapshotStore(transport.connection, { bucket: `troupe_${options.name}_finished`, maxAgeMs: finishedMs, ...(replicas ? { replicas } : {}) }),
    ).catch(async (error: unknown) => {
      await store.close();
      await transport.close();
      throw error;
    });
    const passiveIndex = await retry('open the timers bucket', () =>
      createKvSnapshotStore(transport.connection, { bucket: `troupe_${options.name}_timers`, ...(replicas ? { replicas } : {}) }),
    ).catch(async (error: unknown) => {
      await finished.close();
      await store.close();
      await transport.close();
      throw error;
    });
    const nodesBucket = { bucket: `troupe_${options.name}_nodes`, ...(replicas ? { replicas } : {}) };
    // Every node places messages by the system's shard count: the one recorded when the system was first created
    // (a client node that names none adopts it; one that names another is refused).
    const nodes = await retry('open the nodes bucket', () => createKvSnapshotStore(transport.connection, nodesBucket)).catch(async (error: unknown) => {
      await finished.close();
      await store.close();
      await transport.close();
      throw error;
    });
    const shardCount = await retry('read the shard count', () => systemShardCount(nodes, options.name, shards)).catch(async (error: unknown) => {
      await finished.close();
      await store.close();
      await transport.close();
      throw error;
    });
    const mailbox = await retry('open the mailbox stream', () => createJetStreamMailboxLog(transport.connection, {
      system: options.name,
      shards: shardCount,
      ...(replicas ? { replicas } : {}),
      ...(options.ackWaitMs ? { ackWaitMs: options.ackWaitMs } : {}),
      ...(duplicateWindowMs !== undefined ? { duplicateWindowMs } : {}),
      ...(deadLetters ? { deadLetters } : {}),
      // Self-healing (append retries, consumer re-creation) is reported, not thrown.
      onEvent: (event) => logger.warn({ ...event, error: 'error' in event ? toPlainError(event.error) : undefined }, event.type),
    })).catch(async (error: unknown) => {
      await store.close();
      await transport.close();
      throw error;
    });
    const trace = await retry('open the trace stream', () => createJetStreamTraceLog(transport.connection, {
      system: options.name,
      ...(replicas ? { replicas } : {}),
      ...traceLimits,
    }, (event) => logger.warn({ ...event, error: event.error && toPlainError(event.error) }, event.type))).catch(async (error: unknown) => {
      await mailbox.close();
      await store.close();
      await transport.close();
      throw error;
    });
    return {
      store,
      finished,
      passiveIndex,
      purgeEvery,
      log: mailbox,
      transport,
      membership: { store: () => Promise.resolve(nodes), leaseMs: memberLeaseMs },
      journal: () => createKvSnapshotStore(transport.connection, { bucket: `troupe_${options.name}_journal`, ...(replicas ? { replicas } : {}) }),
      trace,
      close: async () => {
        await trace.close(); // its last entries land before the connection goes
        await mailbox.close();
        await store.close();
        await finished.close();
        await passiveIndex.close();
        await transport.close();
      },
    };
  }
  const store = createMemorySnapshotStore();
  const finished = createMemorySnapshotStore(); // no TTL: the process's life bounds it
  const passiveIndex = createMemorySnapshotStore();
  const log = createMemoryMailboxLog({ shards: DEFAULT_SHARDS });
  const transport = createMemoryTransport();
  return {
    store, finished, passiveIndex, log, transport,
    close: async () => void (await Promise.all([log.close(), store.close(), finished.close(), passiveIndex.close(), transport.close()])),
  };
}

/** `nats.retention` with defaults; throws InvalidConfigError naming the field. */
function resolveRetention(retention: { readonly finishedMs?: number; readonly purgeEvery?: number } | undefined): { finishedMs: number; purgeEvery: number } {
  const resolved = {
    finishedMs: retention?.finishedMs ?? DURABLE_RETENTION_DEFAULTS.finishedMs,
    purgeEvery: retention?.purgeEvery ?? DURABLE_RETENTION_DEFAULTS.purgeEvery,
  };
  for (const field of ['finishedMs', 'purgeEvery'] as const) {
    const v = resolved[field];
    if (!(Number.isInteger(v) && v >= 1)) throw new InvalidConfigError(`retention.${field}`, 'must be an integer >= 1');
  }
  return resolved;
}

/** Transient: a timeout, a retryable error, or JetStream not answering yet. Bad settings are never retried. */
function isTransient(error: unknown): boolean {
  if (error instanceof RetryableError || error instanceof TimeoutError) return true;
  const e = error as { name?: unknown; message?: unknown };
  return e?.name === 'TimeoutError' || (typeof e?.message === 'string' && /timeout|no responders|jetstream is not enabled/i.test(e.message));
}

/** The key of the nodes bucket that records a system's shard count. */
export const SHARD_COUNT_KEY = 'shards';

/**
 * The system's shard count: the recorded one (a node naming another is refused with InvalidConfigError), or,
 * for a new system, `wanted` (default 8), recorded now by create-only CAS (a concurrent first node's wins).
 */
async function systemShardCount(nodes: SnapshotStore, system: string, wanted: number | undefined): Promise<number> {
  if (wanted !== undefined && (!Number.isInteger(wanted) || wanted < 1 || wanted > 1_024)) throw new InvalidConfigError('nats.shards', 'must be an integer from 1 to 1,024');
  for (let attempt = 0; attempt < 3; attempt++) {
    const stored = await nodes.get(SHARD_COUNT_KEY);
    if (stored !== undefined) {
      const recorded = (JSON.parse(new TextDecoder().decode(stored.value)) as { shards?: unknown }).shards;
      if (typeof recorded !== 'number') throw new InvalidConfigError('nats.shards', `the shard count recorded for system ${system} is unreadable`);
      if (wanted !== undefined && wanted !== recorded) {
        throw new InvalidConfigError('nats.shards', `is ${wanted}, but system ${system} was created with ${recorded} shards: every stored message and record is placed by that number`);
      }
      return recorded;
    }
    const count = wanted ?? DEFAULT_SHARDS;
    if ((await nodes.put(SHARD_COUNT_KEY, new TextEncoder().encode(JSON.stringify({ shards: count })), null)).ok) return count;
  }
  throw new InvalidConfigError('nats.shards', `the shard count of system ${system} kept changing while it was read`);
}

/**
 * The server refused this connection's user a subject of this system (issue 9, security): a typed error naming the
 * fix, instead of the client's RequestError.
 */
function permissionError(error: unknown, system: string): InvalidConfigError | undefined {
  const message = error instanceof Error ? error.message : '';
  if (!/permissions violation/i.test(message)) return undefined;
  return new InvalidConfigError('nats', `the server does not permit this user to run system ${system} (${message}); give the user natsPermissions('${system}')`, { cause: error });
}

async function withStartupRetry<T>(what: string, open: () => Promise<T>, timeoutMs: number, logger: Logger): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await open();
    } catch (error) {
      if (!isTransient(error) || Date.now() >= deadline) throw error;
      const delayMs = backoffDelay({ minMs: 200, maxMs: 3_000, factor: 2, jitter: 0.2 }, attempt);
      logger.warn({ err: toPlainError(error), attempt, delayMs }, `NATS: ${what} failed; retrying`);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
