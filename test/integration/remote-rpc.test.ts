/**
 * Location transparency across nodes for non-durable actors: two systems on one real nats-server; a tell or
 * ask to an address hosted by the other node goes over `troupe.<system>.rpc.<address>`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats } from '../../src/transport/nats/connection-options.js';
import { createSystem, DeadLetterError, MailboxFullError, TimeoutError, type TroupeSystem } from '../../src/index.js';
import { counterMachine } from '../fixtures/machines.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

let server: NatsServer;
let a: TroupeSystem;
let b: TroupeSystem;
beforeAll(async () => {
  server = await startNatsServer();
  const node = (nodeId: string) => createSystem({ name: 'rpc', nodeId, logLevel: 'silent', askTimeoutMs: 2_000, nats: { servers: server.url, shards: 1 } });
  a = await node('node-a');
  b = await node('node-b');
  a.register('counter', counterMachine);
  b.register('counter', counterMachine);
});
afterAll(async () => {
  await Promise.all([a?.shutdown(), b?.shutdown()]);
  await server?.cleanup();
});

describe('remote actors over the rpc subjects', () => {
  it('tells and asks reach an actor on the other node, in order, with typed answers', async () => {
    const local = a.spawn<typeof counterMachine>('counter', { id: 'c1', mailboxCapacity: 50 });
    const remote = b.lookup<typeof counterMachine>('rpc/c1');
    for (let n = 1; n <= 20; n++) remote.tell({ type: 'inc', n });
    expect(await remote.ask({ type: 'get' })).toBe(20);
    expect(await remote.ask({ type: 'seen' })).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await local.ask({ type: 'get' })).toBe(20);
    // A failure on the hosting node comes back typed: the crash's ask is answered with the actor's failure.
    await expect(remote.ask({ type: 'crash' })).rejects.toMatchObject({ name: 'ActorFailedError' });
  });

  it('a burst of tells in one turn travels in batches, in order per actor, and an ask after it sees every one', async () => {
    a.spawn<typeof counterMachine>('counter', { id: 'burst1', mailboxCapacity: 3_000 });
    a.spawn<typeof counterMachine>('counter', { id: 'burst2', mailboxCapacity: 3_000 });
    const one = b.lookup<typeof counterMachine>('rpc/burst1');
    const two = b.lookup<typeof counterMachine>('rpc/burst2');
    // More than one batch holds (1,000), interleaved across two actors, all in one synchronous turn.
    for (let n = 1; n <= 2_500; n++) {
      one.tell({ type: 'inc', n });
      if (n % 5 === 0) two.tell({ type: 'inc', n });
    }
    expect(await one.ask({ type: 'seen' })).toEqual(Array.from({ length: 2_500 }, (_, i) => i + 1));
    expect(await two.ask({ type: 'seen' })).toEqual(Array.from({ length: 500 }, (_, i) => (i + 1) * 5));
  });

  it('tells whose batch names another address than their subject, or that hold a malformed tell, are dropped whole', async () => {
    const target = a.spawn<typeof counterMachine>('counter', { id: 'b1' });
    a.spawn<typeof counterMachine>('counter', { id: 'b2' });
    const { encode, encodeEnvelope, encodeTell, encodeTellBatch, eventEnvelope } = await import('../../src/codec/index.js');
    const inc = (n: number) => encodeTell({ type: 'inc', n } as { type: string }, {});
    const nc = await connectNats({ servers: server.url });
    const before = a.runtimeStats().rpcDropped;
    nc.publish('troupe.rpc.rpc.rpc.b1', encodeTellBatch('rpc/b2', 'x.1', Date.now(), [inc(1), inc(2)]));
    nc.publish('troupe.rpc.rpc.rpc.b1', encodeTellBatch('rpc/b1', 'x.2', Date.now(), [inc(3), encode({ type: 7 }), inc(4)]));
    nc.publish('troupe.rpc.rpc.rpc.b1', encodeTellBatch('rpc/b1', 'x.3', Date.now(), [inc(5), encode([{ type: 'inc', n: 6 }, { from: 42 }])]));
    nc.publish('troupe.rpc.rpc.rpc.b1', encodeTellBatch('rpc/b1', 'x.4', Date.now(), [inc(7), encodeTell({ type: 'inc', n: 8 } as { type: string }, { from: 'rpc/elsewhere' })]));
    // A single event envelope, as any NATS client can publish it, is a tell too.
    nc.publish('troupe.rpc.rpc.rpc.b1', encodeEnvelope(eventEnvelope('x.5', 'rpc/b1', { type: 'inc', n: 9 } as { type: string }, Date.now())));
    await nc.flush();
    await nc.close();
    await expect.poll(() => target.getSnapshot()?.context.seen, { timeout: 5_000 }).toEqual([7, 8, 9]);
    expect(a.runtimeStats().rpcDropped - before).toBe(3);
    expect(await b.lookup<typeof counterMachine>('rpc/b2').ask({ type: 'get' })).toBe(0);
  });

  it('an address no node hosts times out (core NATS is at most once: nobody answers)', async () => {
    await expect(b.lookup('rpc/nobody').ask({ type: 'get' }, { timeoutMs: 300 })).rejects.toBeInstanceOf(TimeoutError);
  });

  it('a full remote mailbox answers MailboxFullError', async () => {
    a.spawn<typeof counterMachine>('counter', { id: 'tiny', mailboxCapacity: 1 });
    const remote = b.lookup<typeof counterMachine>('rpc/tiny');
    const answers = await Promise.allSettled(Array.from({ length: 30 }, () => remote.ask({ type: 'get' })));
    const reasons = answers.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as Error).name);
    expect(answers.some((r) => r.status === 'fulfilled')).toBe(true);
    expect(reasons.length).toBeGreaterThan(0);
    expect(new Set(reasons)).toEqual(new Set([MailboxFullError.name]));
  });

  it('garbage on the rpc subjects is dropped; actors and the node are untouched', async () => {
    const target = a.spawn<typeof counterMachine>('counter', { id: 'g1' });
    const nc = await connectNats({ servers: server.url });
    for (let i = 0; i < 500; i++) nc.publish(`troupe.rpc.rpc.rpc.g1`, Uint8Array.from({ length: i % 40 }, (_, j) => (i * 31 + j * 7) % 256));
    nc.publish('troupe.rpc.rpc.rpc.g1', new TextEncoder().encode('{"type":"inc"}'));
    await nc.flush();
    await nc.close();
    b.lookup('rpc/g1').tell({ type: 'inc' });
    expect(await b.lookup('rpc/g1').ask({ type: 'get' })).toBe(1);
    expect(await target.ask({ type: 'get' })).toBe(1);
    await expect(b.lookup('rpc/g1').ask({ type: 'nonsense' } as never)).rejects.toBeInstanceOf(DeadLetterError);
  });
});
