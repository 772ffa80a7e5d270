/**
 * The spawn-time service check on NATS (issue 13): a workflow names an escrow that may run on another node, so the
 * spawning node asks the others before the workflow starts. Found nowhere (after a short grace for spawns racing
 * across nodes): the workflow never starts, `ref.ready` rejects with InvalidChildSpecError naming the address, and
 * nothing of it is stored. Found on another node, live or durable: it runs. Real nats-server, two nodes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSystem, InvalidChildSpecError, type TroupeSystem } from '../../src/index.js';
import { escrow, step, workflow } from '../../machines/index.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

let server: NatsServer;
let a: TroupeSystem;
let b: TroupeSystem;
let charged: string[] = [];

const saga = workflow('saga', {
  steps: [step('charge', async ({ workflowId }) => void charged.push(workflowId), { compensate: async () => undefined }), step('ship', async () => 'shipped')],
});

beforeAll(async () => {
  server = await startNatsServer();
  const node = async (nodeId: string) => {
    const system = await createSystem({ name: 'svc', nodeId, logLevel: 'silent', nats: { servers: server.url, shards: 2 } });
    system.register('escrow', escrow, { version: 1 });
    system.register('saga', saga, { version: 1 });
    await system.recover();
    return system;
  };
  a = await node('node-a');
  b = await node('node-b');
});
afterAll(async () => {
  await Promise.all([a?.shutdown(), b?.shutdown()]);
  await server?.cleanup();
});

describe('spawn-time service check across NATS nodes (issue 13)', () => {
  it('a workflow whose escrow runs on no node never starts: ready rejects naming it, no step runs, nothing is stored', async () => {
    charged = [];
    const ref = a.spawn('saga', { id: 'order-1' });
    const refused = await ref.ready.then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(InvalidChildSpecError);
    expect((refused as Error).message).toContain('escrow names svc/escrow, where nothing runs');
    expect(charged).toEqual([]);
    expect(ref.getSnapshot()).toBeUndefined();
    await expect(ref.result({ timeoutMs: 1_000 })).rejects.toBeInstanceOf(InvalidChildSpecError); // its result is the refusal

    const durable = a.spawn('saga', { id: 'order-2', durable: true });
    await expect(durable.ready).rejects.toBeInstanceOf(InvalidChildSpecError);
    expect(charged).toEqual([]);
    expect((await a.recover()).map(String)).not.toContain('svc/order-2');
    expect((await b.recover()).map(String)).not.toContain('svc/order-2');
  });

  it("an escrow live on the other node is found: the workflow runs, and a refused address can be spawned again", async () => {
    charged = [];
    b.spawn('escrow', { id: 'escrow' });
    const ref = a.spawn('saga', { id: 'order-1' });
    await ref.ready;
    await expect(ref.result({ timeoutMs: 5_000 })).resolves.toMatchObject({ status: 'completed', results: { ship: 'shipped' } });
    const durable = a.spawn('saga', { id: 'order-2', durable: true });
    await durable.ready;
    await expect(durable.result({ timeoutMs: 10_000 })).resolves.toMatchObject({ status: 'completed' });
    expect(charged.sort()).toEqual(['order-1', 'order-2']);
  });

  it('a durable escrow spawned from one node a moment before the workflow on the other is found (it is stored, or it answers)', async () => {
    charged = [];
    a.spawn('escrow', { id: 'desk', durable: true });
    const ref = b.spawn('saga', { id: 'order-3', input: { escrow: 'svc/desk', input: {} } });
    await ref.ready;
    await expect(ref.result({ timeoutMs: 5_000 })).resolves.toMatchObject({ status: 'completed' });
    expect(charged).toEqual(['order-3']);
  });
});
