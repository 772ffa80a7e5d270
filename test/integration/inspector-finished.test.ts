/**
 * Finished durable workflows stay listed (issue 14): a system on a real nats-server runs durable workflows to the
 * end (one completes, one aborts), shuts down, and a new process of the system starts an inspector with an empty
 * history. The page's `finished` request lists both, finished, with their final snapshots and their whole traces
 * read from the durable trace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSystem, NonRetryableError, type FinishedMessage } from '../../src/index.js';
import { step, workflow } from '../../machines/index.js';
import { startInspector } from '../../inspector/index.js';
import { until } from '../fixtures/chaos.js';
import { connectInspectorClient, type InspectorClient } from '../fixtures/inspector-client.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

let server: NatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.cleanup();
});

const ok = workflow('ok', { steps: [step('a', async () => 1), step('b', async () => 2)] });
const bad = workflow('bad', { steps: [step('a', async () => { throw new NonRetryableError('no'); })] });

async function node() {
  const system = await createSystem({ name: 'fin', logLevel: 'silent', nats: { servers: server.url, shards: 2 } });
  system.register('ok', ok, { version: 1 });
  system.register('bad', bad, { version: 1 });
  await system.recover();
  return system;
}

describe('finished durable workflows in a fresh inspector (issue 14)', () => {
  it('lists them with their final state and whole trace after a restart', async () => {
    const first = await node();
    await expect(first.spawn('ok', { id: 'w-ok', durable: true }).result({ timeoutMs: 10_000 })).resolves.toMatchObject({ status: 'completed' });
    await expect(first.spawn('bad', { id: 'w-bad', durable: true }).result({ timeoutMs: 10_000 })).rejects.toThrow();
    await first.shutdown();

    const second = await node();
    const inspector = await startInspector({ system: second });
    let ui: InspectorClient | undefined;
    try {
      ui = await connectInspectorClient(inspector);
      await ui.request({ t: 'finished' });
      const finished = await until(10_000, 'the finished list', () => ui!.seen.find((m): m is FinishedMessage => m.t === 'finished'));
      const byAddress = new Map(finished.actors.map((a) => [a.address, a]));
      expect(byAddress.get('fin/w-ok')).toMatchObject({ logic: 'ok', finished: true, snapshot: { status: 'done', context: { status: 'completed' } } });
      expect(byAddress.get('fin/w-bad')).toMatchObject({ logic: 'bad', finished: true, snapshot: { context: { status: 'aborted' } } });
      expect(finished.traces['w-ok']?.map((e) => `${e.kind}:${e.step}:${e.outcome}`)).toEqual(expect.arrayContaining(['step:a:succeeded', 'step:b:succeeded', 'workflow::completed']));
      expect(finished.traces['w-bad']?.some((e) => e.kind === 'workflow' && e.to === 'aborted')).toBe(true);
      expect(await second.finishedActors({ limit: 1 })).toHaveLength(1);
      await expect(second.finishedActors({ limit: 0 })).rejects.toThrow(/limit/);
    } finally {
      ui?.close();
      await inspector.close();
      await second.shutdown();
    }
  });
});
