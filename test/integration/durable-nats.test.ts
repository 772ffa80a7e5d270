/**
 * Durable actors on a real nats-server: the JetStream mailbox and KV snapshot store behind the same API as
 * the embedded default. A second system on the same server resumes what the first one persisted.
 */
import { assign, setup } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reply } from '../../machines/emit.js';
import { createSystem, type TroupeSystem } from '../../src/index.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

const counter = setup({
  types: { context: {} as { count: number }, events: {} as { type: 'inc' } | { type: 'get' } },
}).createMachine({
  context: { count: 0 },
  on: {
    inc: { actions: assign({ count: ({ context }) => context.count + 1 }) },
    get: { actions: reply(({ context }) => context.count) },
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
});
