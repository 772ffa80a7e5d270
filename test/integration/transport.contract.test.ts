/**
 * The Transport contract against the memory transport and against NATS (one nats-server for the contract),
 * then the NATS connection options (auth methods, validation), each auth case on a server of its own.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { nkeys } from '@nats-io/transport-node';
import { InvalidConfigError, NonRetryableError, RetryableError } from '../../src/errors.js';
import { createMemoryTransport } from '../../src/transport/memory/memory-transport.js';
import type { NatsConnectionOptions } from '../../src/transport/nats/connection-options.js';
import { createNatsTransport, type NatsTransport } from '../../src/transport/nats/nats-transport.js';
import { describeTransportContract } from '../contract/transport.case.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

let server: NatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.cleanup();
});

describeTransportContract('memory', async () => createMemoryTransport(), {
  payload: 'unbounded',
});

describeTransportContract('nats', () => createNatsTransport({ servers: server.url, name: 'troupe-contract' }));

describe('nats: connection options', () => {
  const echo = async (transport: NatsTransport) => {
    transport.subscribe('auth.echo', (m) => transport.publish(m.reply!, m.data));
    return (await transport.request('auth.echo', new Uint8Array([7]), { timeoutMs: 5_000 })).data;
  };

  test('user/pass: the right pair connects, a wrong one fails with NonRetryableError', async () => {
    await using auth = await startNatsServer({ args: ['--user', 'troupe', '--pass', 's3cret'] });
    const transport = await createNatsTransport({ servers: auth.url, user: 'troupe', pass: 's3cret' });
    expect([...(await echo(transport))]).toEqual([7]);
    await transport.close();
    await expect(createNatsTransport({ servers: auth.url, user: 'troupe', pass: 'wrong' })).rejects.toBeInstanceOf(NonRetryableError);
  });

  test('token: connects with the server token', async () => {
    await using auth = await startNatsServer({ args: ['--auth', 'tok-123'] });
    const transport = await createNatsTransport({ servers: auth.url, token: 'tok-123' });
    expect([...(await echo(transport))]).toEqual([7]);
    await transport.close();
  });

  test('nkey: connects with the user seed whose public key the server knows', async () => {
    const user = nkeys.createUser();
    const config = `authorization { users = [ { nkey: "${user.getPublicKey()}" } ] }`;
    await using auth = await startNatsServer({ config });
    const transport = await createNatsTransport({ servers: auth.url, nkeySeed: new TextDecoder().decode(user.getSeed()) });
    expect([...(await echo(transport))]).toEqual([7]);
    await transport.close();
  });

  test('bad options fail before dialing, with InvalidConfigError naming the field', async () => {
    const bad = (options: Partial<NatsConnectionOptions>) => createNatsTransport({ servers: server.url, ...options });
    await expect(bad({ servers: [] })).rejects.toThrow(/nats\.servers/);
    await expect(bad({ user: 'only-user' })).rejects.toThrow(/nats\.user/);
    await expect(bad({ token: 't', nkeySeed: 'SUABC' })).rejects.toThrow(/nats\.auth/);
    await expect(bad({ nkeySeed: 'not-a-seed' })).rejects.toThrow(/nats\.nkeySeed/);
    await expect(bad({ tls: { caFile: '/nonexistent/ca.pem' } })).rejects.toThrow(/nats\.tls\.caFile/);
    await expect(bad({ reconnectTimeWaitMs: 0 })).rejects.toBeInstanceOf(InvalidConfigError);
  });

  test('a server that is not there fails the first connect with RetryableError', async () => {
    const gone = await startNatsServer();
    const url = gone.url;
    await gone.cleanup();
    await expect(createNatsTransport({ servers: url, connectTimeoutMs: 2_000 })).rejects.toBeInstanceOf(RetryableError);
  });
});
