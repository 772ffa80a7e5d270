/**
 * The inspector across nodes (issue 9) on a real nats-server: node B runs the escrow and a workflow waiting in it;
 * an inspector on node A draws the workflow's statechart (node B answers the definition request) and approves the
 * item (the decision reaches B's escrow, which continues B's workflow); a decision for an item that is not waiting
 * is refused with the escrow's own reason. A durable ask from A to B is answered on A.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSystem, type ServerMessage, type TroupeSystem } from '../../src/index.js';
import { escrow, step, workflow, type WorkflowOutput } from '../../machines/index.js';
import { startInspector, type Inspector } from '../../inspector/index.js';
import { counterMachine } from '../fixtures/machines.js';
import { until } from '../fixtures/chaos.js';
import { connectInspectorClient } from '../fixtures/inspector-client.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

let server: NatsServer;
let a: TroupeSystem;
let b: TroupeSystem;
let inspector: Inspector;

beforeAll(async () => {
  server = await startNatsServer();
  const node = (nodeId: string) => createSystem({ name: 'xn', nodeId, logLevel: 'silent', nats: { servers: server.url, shards: 2 } });
  a = await node('node-a');
  b = await node('node-b');
  inspector = await startInspector({ system: a });
});
afterAll(async () => {
  await inspector?.close();
  await Promise.all([a?.shutdown(), b?.shutdown()]);
  await server?.cleanup();
});

/** One inspector client: sends requests, collects what the server sends. */
const client = () => connectInspectorClient(inspector);

describe('the inspector across nodes (issue 9)', () => {
  it("an inspector on node A draws node B's workflow and approves B's escrow item; B's workflow completes with the decider named", async () => {
    b.spawn(b.register('escrow', escrow, { version: 1 }), { id: 'escrow' });
    a.register('escrow', escrow, { version: 1 });
    let calls = 0;
    const wf = workflow('review', {
      steps: [step('draft', async () => ({ text: 'hi', confidence: ++calls === 1 ? 0.2 : 0.95 }), { minConfidence: 0.9 }), step('send', async ({ context }) => context)],
    });
    const run = b.spawn(b.register('review', wf, { version: 1 }), { id: 'ticket-1' });
    let output: WorkflowOutput | undefined;
    run.subscribe((s) => void (output = (s as { output?: WorkflowOutput }).output));
    const items = await until(10_000, 'the item waits in the escrow', async () => {
      const listed = await a.escrow().list(); // asked from node A
      return listed.length > 0 ? listed : undefined;
    });
    expect(items[0]).toMatchObject({ id: 'ticket-1/draft/1', workflowId: 'ticket-1' });

    const ui = await client();
    try {
      expect(a.describe('xn/ticket-1')).toBeUndefined(); // not on node A
      const drawn = await ui.request({ t: 'definition', address: 'xn/ticket-1' });
      expect(drawn).toMatchObject({ ok: true });
      const definition = ui.seen.find((m) => m.t === 'definition') as { address?: string; key?: string; definition?: { id?: string } } | undefined;
      expect(definition).toMatchObject({ address: 'xn/ticket-1', key: 'review@1' });
      expect(definition?.definition?.id).toBe('review');
      expect(await ui.request({ t: 'definition', address: 'xn/nobody' })).toMatchObject({ ok: false, error: 'no definition for that address' });

      const wrong = await ui.request({ t: 'decide', escrow: 'xn/escrow', itemId: 'ticket-1/draft/9', decision: 'approve', by: 'ana' });
      expect(wrong).toMatchObject({ ok: false });
      expect(String(wrong['error'])).toContain('ticket-1/draft/9');
      expect(await ui.request({ t: 'decide', escrow: 'xn/escrow', itemId: 'ticket-1/draft/1', decision: 'approve', by: 'ana' })).toMatchObject({ ok: true });
    } finally {
      ui.close();
    }
    await until(10_000, "node B's workflow completes", () => output?.status === 'completed' || undefined);
    const decided = (await b.trace('ticket-1')).find((e) => e.kind === 'escrow' && e.outcome === 'approved');
    expect(decided).toMatchObject({ detail: expect.objectContaining({ by: 'ana' }) as unknown });
  });

  it('a durable ask from node A to an actor node B hosts is answered on A', async () => {
    b.register('counter', counterMachine, { version: 1 });
    a.register('counter', counterMachine, { version: 1 });
    await b.recover();
    const ref = a.lookup('xn/c-durable');
    b.spawn('counter', { id: 'c-durable', durable: true });
    await ref.deliver({ type: 'inc' });
    expect(await ref.ask({ type: 'get' }, { timeoutMs: 10_000 })).toBe(1);
  });
});
