/**
 * Opening a NATS-backed system waits out a server that is not answering yet (starting, restarting), within
 * `startupTimeoutMs`, and fails at once on a wrong setting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSystem, NonRetryableError } from '../../src/index.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

let server: NatsServer;
beforeAll(async () => {
  server = await startNatsServer({ args: ['--user', 'troupe', '--pass', 'secret'] });
});
afterAll(async () => {
  await server?.cleanup();
});

describe('opening a system on NATS', () => {
  it('retries until a server that is down comes up, then works', async () => {
    await server.stop();
    const opening = createSystem({ name: 'startup', logLevel: 'silent', nats: { servers: server.url, user: 'troupe', pass: 'secret', shards: 1 } });
    let opened = false;
    void opening.then(() => (opened = true), () => {});
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(opened).toBe(false); // still waiting for the server
    await server.start();
    const system = await opening;
    const logic = system.register('noop', (await import('../fixtures/machines.js')).counterMachine);
    const ref = system.spawn(logic, { id: 'c', durable: true });
    await ref.deliver({ type: 'inc' });
    expect(await ref.ask({ type: 'get' })).toBe(1);
    await system.shutdown();
  });

  it('fails at once, without retrying, on wrong credentials', async () => {
    await expect(
      createSystem({ name: 'startup', logLevel: 'silent', nats: { servers: server.url, user: 'troupe', pass: 'wrong', startupTimeoutMs: 60_000 } }),
    ).rejects.toBeInstanceOf(NonRetryableError);
  });

  it('gives up after startupTimeoutMs when no server comes', async () => {
    await server.stop();
    await expect(
      createSystem({ name: 'startup', logLevel: 'silent', nats: { servers: server.url, user: 'troupe', pass: 'secret', startupTimeoutMs: 1_000 } }),
    ).rejects.toMatchObject({ name: 'RetryableError' });
    await server.start();
  });
});
