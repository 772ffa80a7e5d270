/**
 * Asks to a durable actor from a node that does not host it (issue 9, location transparency): the ask goes into the
 * actor's durable mailbox naming the asking node's reply subject, and the hosting process answers there once the
 * answer's state is stored. Real nats-server, the host a separate process (test/fixtures/shard-node.mjs).
 */
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSystem, DeadLetterError } from '../../src/index.js';
import { Worker } from '../fixtures/chaos.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

const NODE = fileURLToPath(new URL('../fixtures/shard-node.mjs', import.meta.url));

let server: NatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.cleanup();
});

describe('a durable ask from another node (issue 9)', () => {
  it('is answered on the asking node whoever hosts the actor, an unhandled event is refused, and garbage on the reply subject changes nothing', async () => {
    const host = new Worker({ url: server.url, system: 'rask', nodeId: 'node-h', shards: 2 }, NODE);
    const asker = await createSystem({ name: 'rask', nodeId: 'node-b', logLevel: 'silent', nats: { servers: server.url, shards: 2 } });
    const nc = await connect({ servers: server.url });
    try {
      await host.event('hosting');
      const counter = asker.lookup('rask/c0');
      for (let i = 0; i < 3; i++) await counter.deliver({ type: 'inc' }); // stored for the host: this node hosts nothing
      expect(await counter.ask({ type: 'get' }, { timeoutMs: 5_000 })).toBe(3);

      const refused = await counter.ask({ type: 'no-such-event' }, { timeoutMs: 5_000 }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(DeadLetterError);

      nc.publish('troupe.rask.reply.node-b', new Uint8Array([0xc1, 0xff, 0x00]));
      nc.publish('troupe.rask.reply.node-b', new TextEncoder().encode('{"c":"node-b.1","ok":true,"payload":99}'));
      await nc.flush();
      await counter.deliver({ type: 'inc' });
      expect(await counter.ask({ type: 'get' }, { timeoutMs: 5_000 })).toBe(4);
    } finally {
      await nc.close();
      await asker.shutdown();
      if (host.running) await host.stop();
    }
  });
});
