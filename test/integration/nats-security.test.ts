/**
 * Security (issue 9): a nats-server whose users are confined to one system's subjects with `natsPermissions`
 * (one user per system). A node of that system runs durable workflows end to end (leases, membership, records,
 * mailboxes, the trace); a node whose user belongs to another system is refused by the server, and createSystem
 * says so with a typed error naming the fix. Real nats-server, loopback only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { createSystem, InvalidConfigError, natsPermissions, natsPermissionsConfig } from '../../src/index.js';
import { step, workflow } from '../../machines/index.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

let server: NatsServer;
beforeAll(async () => {
  server = await startNatsServer({
    config: `authorization { users: [
      { user: support, password: s3cret, permissions: ${natsPermissionsConfig('support')} },
      { user: billing, password: b1lling, permissions: ${natsPermissionsConfig('billing')} }
    ] }`,
  });
});
afterAll(async () => {
  await server?.cleanup();
});

const nats = (user: string, pass: string) => ({ servers: server.url, user, pass, startupTimeoutMs: 3_000 });

describe('NATS permissions per system (issue 9)', () => {
  it('a node whose user has natsPermissions(system) runs durable workflows end to end', async () => {
    const system = await createSystem({ name: 'support', logLevel: 'silent', nats: nats('support', 's3cret') });
    try {
      system.register('wf', workflow('wf', { steps: [step('a', async () => 1), step('b', async () => 2)] }), { version: 1 });
      await system.recover();
      const ref = system.spawn('wf', { id: 'w1', durable: true, input: { workflowId: 'w1', address: 'support/w1' } });
      expect(await ref.result({ timeoutMs: 10_000 })).toMatchObject({ status: 'completed', results: { a: 1, b: 2 } });
      expect((await system.trace('w1')).length).toBeGreaterThan(0);
      expect((await system.nodes())[0]).toMatchObject({ hosting: true, shards: expect.any(Array) });
    } finally {
      await system.shutdown();
    }
  });

  it("a node of another system is refused: createSystem fails with InvalidConfigError naming the fix, and the user cannot read the system's records", async () => {
    const refused = await createSystem({ name: 'support', logLevel: 'silent', nats: nats('billing', 'b1lling') }).then(
      async (system) => (await system.shutdown(), undefined),
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(InvalidConfigError);
    expect((refused as Error).message).toContain("natsPermissions('support')");
    expect((refused as Error).message).toMatch(/permissions violation/i);

    const nc = await connect({ servers: server.url, user: 'billing', pass: 'b1lling' });
    try {
      const bucket = await new Kvm(nc).open('troupe_support_snapshots');
      await expect(bucket.get('support.w1')).rejects.toThrow(/permissions violation/i);
    } finally {
      await nc.close();
    }
  });

  it('the permissions name only the system’s own subjects and streams', () => {
    const { publish, subscribe } = natsPermissions('support');
    expect(subscribe.allow).toEqual(['troupe.support.>', '_INBOX.>']);
    expect(publish.allow.filter((s) => s.startsWith('troupe.') || s.startsWith('$KV.'))).toEqual([
      'troupe.support.>', '$KV.troupe_support_snapshots.>', '$KV.troupe_support_finished.>', '$KV.troupe_support_nodes.>',
      '$KV.troupe_support_timers.>', '$KV.troupe_support_journal.>',
    ]);
    expect(publish.allow.some((s) => s.includes('billing') || s === '>' || s === '$JS.API.>')).toBe(false);
    expect(() => natsPermissions('bad name')).toThrow(InvalidConfigError);
  });
});
