/** The Transport contract against the memory transport and against NATS (one nats-server for this file). */
import { afterAll, beforeAll } from 'vitest';
import { createMemoryTransport } from '../../src/transport/memory/memory-transport.js';
import { createNatsTransport } from '../../src/transport/nats/nats-transport.js';
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
  skip: { 'max payload': 'an in-process bus has no max payload' },
});

describeTransportContract('nats', () => createNatsTransport({ servers: server.url, name: 'troupe-contract' }));
