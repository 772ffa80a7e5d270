/**
 * Guide example: the cluster so far (docs/guides/cluster.md), on NATS. Two nodes of one system in one process (in
 * production, two processes or machines): each heartbeats, sees the other, and `ask`s a durable actor whichever
 * node hosts it. `TROUPE_NATS_URL` names the server (default nats://127.0.0.1:4222). The test suite runs it
 * (test/integration/guides.test.ts).
 */
import { assign, setup } from 'xstate';
import { reply } from '../machines/index.js';
import { createSystem } from '../src/index.js';

const servers = process.env['TROUPE_NATS_URL'] ?? 'nats://127.0.0.1:4222';
const counter = setup({ types: { context: {} as { count: number }, events: {} as { type: 'inc' } | { type: 'get' } } }).createMachine({
  context: { count: 0 },
  on: {
    inc: { actions: assign({ count: ({ context }) => context.count + 1 }) },
    get: { actions: reply(({ context }) => context.count) },
  },
});

const nodeA = await createSystem({ name: 'orders', nodeId: 'node-a', nats: { servers } });
const nodeB = await createSystem({ name: 'orders', nodeId: 'node-b', nats: { servers } });
for (const node of [nodeA, nodeB]) node.register('counter', counter, { version: 1 });

console.log(`nodes: ${(await nodeA.nodes()).map((n) => n.node).join(', ')}`);

// node-a hosts the durable actor; node-b stores messages for it and asks it, by address.
const ref = nodeA.spawn('counter', { id: 'tally', durable: true });
await ref.ready;
const remote = nodeB.lookup('orders/tally');
for (let i = 0; i < 2; i++) await remote.deliver({ type: 'inc' });
console.log(`asked from node-b: ${await remote.ask<number>({ type: 'get' }, { timeoutMs: 10_000 })}`);

await nodeB.shutdown();
await nodeA.shutdown();
