/**
 * A node learns which senders are durable (issue 11's lost release, in general): a durable actor's tell to a plain
 * actor on another node says it comes from a durable actor, so the answer goes back through the durable mailbox —
 * appended by the answering node itself, exactly once even across a shard handover — not through the
 * at-most-once relay to whichever node hosts the actor now. Real nats-server, two nodes in one process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { createSystem, type TroupeSystem } from '../../src/index.js';
import { reply, tellTo } from '../../machines/index.js';
import { until } from '../fixtures/chaos.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

/** Durable: `go` pings the echo with its own address; counts the pongs. */
const pinger = setup({ types: { context: {} as { pongs: number }, events: {} as { type: 'go' } | { type: 'pong' } | { type: 'count' } } }).createMachine({
  context: { pongs: 0 },
  on: {
    go: { actions: tellTo('ds/echo', ({ self }) => ({ type: 'ping' as const, replyTo: self.id })) },
    pong: { actions: assign({ pongs: ({ context }) => context.pongs + 1 }) },
    count: { actions: reply(({ context }) => context.pongs) },
  },
});
/** Plain: answers a ping to whoever it names. */
const echo = setup({ types: { events: {} as { type: 'ping'; replyTo: string } } }).createMachine({
  on: { ping: { actions: tellTo(({ event }) => event.replyTo, () => ({ type: 'pong' as const })) } },
});

let server: NatsServer;
let a: TroupeSystem;
let b: TroupeSystem;

beforeAll(async () => {
  server = await startNatsServer();
  const node = async (nodeId: string, hostsDurable: boolean) => {
    const system = await createSystem({ name: 'ds', nodeId, logLevel: 'silent', nats: { servers: server.url, shards: 2, hostsDurable } });
    system.register('pinger', pinger, { version: 1 });
    system.register('echo', echo, { version: 1 });
    await system.recover();
    return system;
  };
  a = await node('node-a', true);
  b = await node('node-b', false); // a client node: it never hosts the pinger
});
afterAll(async () => {
  await Promise.all([a?.shutdown(), b?.shutdown()]);
  await server?.cleanup();
});

describe('durable senders are learnt (issue 11)', () => {
  it("the echo's answers to a durable pinger on another node go to the pinger's mailbox", async () => {
    b.spawn('echo', { id: 'echo' });
    const ref = a.spawn('pinger', { id: 'pinger', durable: true });
    await ref.ready;
    const before = b.durabilityStats().logAppends;
    for (let i = 0; i < 3; i++) await ref.deliver({ type: 'go' });
    await until(10_000, 'three pongs', async () => (await ref.ask<number>({ type: 'count' }, { timeoutMs: 5_000 })) === 3);
    expect(b.durabilityStats().logAppends - before).toBe(3); // node B appended each pong itself
  });
});
