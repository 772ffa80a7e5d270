/**
 * Part of the composition root: the only module that names the NATS, JetStream and KV implementations. It opens
 * the durable backends (mailbox log, snapshot store) and the node's transport: explicit ones, NATS JetStream,
 * or the in-memory embedded default.
 */
import { toPlainError } from '../errors.js';
import type { Logger } from '../log/index.js';
import { createJetStreamMailboxLog } from '../persistence/jetstream/jetstream-mailbox-log.js';
import { createKvSnapshotStore } from '../persistence/jetstream/kv-snapshot-store.js';
import type { MailboxLog } from '../persistence/mailbox-log.js';
import { createMemoryMailboxLog } from '../persistence/memory/memory-mailbox-log.js';
import { createMemorySnapshotStore } from '../persistence/memory/memory-snapshot-store.js';
import type { SnapshotStore } from '../persistence/snapshot-store.js';
import { createMemoryTransport } from '../transport/memory/memory-transport.js';
import { createNatsTransport } from '../transport/nats/nats-transport.js';
import type { Transport } from '../transport/transport.js';
import type { CreateSystemOptions } from './api.js';

export interface Backends {
  readonly store: SnapshotStore;
  readonly log: MailboxLog;
  readonly transport: Transport;
  close(): Promise<void>;
}

/** The durable backends: explicit ones, NATS JetStream, or the in-memory default. */
export async function openBackends(options: CreateSystemOptions, logger: Logger): Promise<Backends> {
  if (options.durability) {
    const { store, log } = options.durability;
    const transport = createMemoryTransport();
    return { store, log, transport, close: async () => void (await Promise.all([log.close(), store.close(), transport.close()])) };
  }
  if (options.nats) {
    const { replicas, shards, ...connection } = options.nats;
    const transport = await createNatsTransport(connection);
    const store = await createKvSnapshotStore(transport.connection, { bucket: `troupe_${options.name}_snapshots`, ...(replicas ? { replicas } : {}) });
    const mailbox = await createJetStreamMailboxLog(transport.connection, {
      system: options.name,
      shards: shards ?? 8,
      ...(replicas ? { replicas } : {}),
      ...(options.ackWaitMs ? { ackWaitMs: options.ackWaitMs } : {}),
      // Self-healing (append retries, consumer re-creation) is reported, not thrown.
      onEvent: (event) => logger.warn({ ...event, error: 'error' in event ? toPlainError(event.error) : undefined }, event.type),
    });
    return {
      store,
      log: mailbox,
      transport,
      close: async () => {
        await mailbox.close();
        await store.close();
        await transport.close();
      },
    };
  }
  const store = createMemorySnapshotStore();
  const log = createMemoryMailboxLog({ shards: 8 });
  const transport = createMemoryTransport();
  return { store, log, transport, close: async () => void (await Promise.all([log.close(), store.close(), transport.close()])) };
}
