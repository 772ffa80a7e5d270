/**
 * Guide example: durability and recovery (docs/guides/durability.md), on NATS JetStream. Run it twice against one
 * nats-server (`TROUPE_NATS_URL`, default nats://127.0.0.1:4222): `crash` stores three messages for a durable
 * counter and dies without shutting down (as a killed process would); `recover` is a new process that finds the
 * actor, resumes it from its stored record and mailbox, and answers its count. The test suite runs both
 * (test/integration/guides.test.ts).
 */
import { assign, setup } from 'xstate';
import { reply } from '../machines/index.js';
import { createSystem } from '../src/index.js';

const counter = setup({ types: { context: {} as { count: number }, events: {} as { type: 'inc' } | { type: 'get' } } }).createMachine({
  context: { count: 0 },
  on: {
    inc: { actions: assign({ count: ({ context }) => context.count + 1 }) },
    get: { actions: reply(({ context }) => context.count) },
  },
});

const system = await createSystem({ name: 'guide', nats: { servers: process.env['TROUPE_NATS_URL'] ?? 'nats://127.0.0.1:4222' } });
system.register('counter', counter, { version: 1 });

if (process.argv[2] === 'crash') {
  await system.recover(); // this node hosts durable actors: it takes its share of the shards first
  const ref = system.spawn('counter', { id: 'counter-1', durable: true });
  for (let i = 0; i < 3; i++) await ref.deliver({ type: 'inc' }); // stored: handled even if this process dies now
  console.log('delivered: 3');
  process.exit(0); // no shutdown: the process just ends
} else {
  console.log(`recovered: ${(await system.recover()).join(', ')}`);
  console.log(`count after recovery: ${await system.lookup('guide/counter-1').ask<number>({ type: 'get' }, { timeoutMs: 10_000 })}`);
  await system.shutdown();
}
