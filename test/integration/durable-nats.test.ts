/**
 * Durable actors on a real nats-server: the JetStream mailbox and KV snapshot store behind the same API as
 * the embedded default. A second system on the same server resumes what the first one persisted.
 */
import { assign, setup } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reply } from '../../machines/emit.js';
import { createSystem, type RuntimeEvent, type TroupeSystem } from '../../src/index.js';
import { connectNats } from '../../src/transport/nats/connection-options.js';
import { createKvSnapshotStore } from '../../src/persistence/jetstream/kv-snapshot-store.js';
import { createJetStreamMailboxLog } from '../../src/persistence/jetstream/jetstream-mailbox-log.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

const counter = setup({
  types: { context: {} as { count: number; note: string }, events: {} as { type: 'inc' } | { type: 'get' } | { type: 'note'; text: string } },
}).createMachine({
  context: { count: 0, note: '' },
  on: {
    inc: { actions: assign({ count: ({ context }) => context.count + 1 }) },
    get: { actions: reply(({ context }) => context.count) },
    note: { actions: assign({ note: ({ event }) => event.text }) },
  },
});

let server: NatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.cleanup();
});

async function node(name: string): Promise<TroupeSystem> {
  const system = await createSystem({ name, logLevel: 'silent', nats: { servers: server.url, shards: 2 } });
  system.register('counter', counter);
  return system;
}

describe('durable actors on NATS JetStream', () => {
  it('handles delivered messages once, answers after persisting, and a new system resumes the state', async () => {
    const first = await node('natsdur');
    const ref = first.spawn<typeof counter>('counter', { id: 'c1', durable: true });
    for (let i = 0; i < 20; i++) await ref.deliver({ type: 'inc' });
    expect(await ref.ask({ type: 'get' })).toBe(20);
    const stats = first.durabilityStats();
    expect(stats.snapshotWrites).toBeGreaterThanOrEqual(2);
    expect(stats.snapshotWrites).toBeLessThanOrEqual(22);
    await first.shutdown();

    const second = await node('natsdur');
    expect(await second.recover()).toContain('natsdur/c1');
    const again = second.lookup<typeof counter>('natsdur/c1');
    await again.deliver({ type: 'inc' });
    expect(await again.ask({ type: 'get' })).toBe(21);
    await second.shutdown();
  });

  it('a record too large for the store fails the actor with a clear error, never truncated or retried forever', async () => {
    const nc = await connectNats({ servers: server.url });
    const store = await createKvSnapshotStore(nc, { bucket: 'troupe_natsbig_snapshots', maxValueBytes: 4_096 });
    const log = await createJetStreamMailboxLog(nc, { system: 'natsbig', shards: 1 });
    const system = await createSystem({ name: 'natsbig', logLevel: 'silent', durability: { store, log }, supervision: { intensity: 0 } });
    system.register('counter', counter);
    const failures: RuntimeEvent[] = [];
    system.subscribe((e) => e.type === 'rt.actor.failed' && failures.push(e));
    const ref = system.spawn<typeof counter>('counter', { id: 'big', durable: true });
    await ref.deliver({ type: 'inc' });
    expect(await ref.ask({ type: 'get' })).toBe(1);
    await ref.deliver({ type: 'note', text: 'x'.repeat(10_000) });
    const termination = await system.terminated; // intensity 0: the failure escalates to the root
    expect(termination.reason).toBe('failed');
    expect(failures).toHaveLength(1);
    const failure = failures[0] as Extract<RuntimeEvent, { type: 'rt.actor.failed' }>;
    expect(failure.kind).toBe('persistence-error');
    expect(failure.error.cause?.name).toBe('CodecError');
    const stored = await store.get('natsbig.big');
    expect(stored?.value.byteLength).toBeLessThan(4_096); // the last good record is intact
    await nc.close();
  });
});
