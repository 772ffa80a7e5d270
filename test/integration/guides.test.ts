/**
 * The guides' examples run (issue 13: documentation that cannot rot): each is built to dist/examples/ and run as its
 * own process, and its printed facts are checked. The durable one runs twice against a real nats-server, the first
 * process ending without a shutdown.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

const run = promisify(execFile);
const example = (name: string) => fileURLToPath(new URL(`../../dist/examples/${name}.js`, import.meta.url));

async function lines(name: string, args: string[] = [], env: Record<string, string> = {}): Promise<string[]> {
  const { stdout } = await run(process.execPath, [example(name), ...args], { env: { ...process.env, ...env }, timeout: 30_000 });
  return stdout.trim().split('\n');
}

describe('guide examples (issue 13)', () => {
  it('actors and supervision: a crashing worker is restarted and later messages reach the new incarnation', async () => {
    expect(await lines('guide-supervision')).toEqual(['restarts: 1', 'jobs done by the new incarnation: 1', 'dead letters: 1']);
  });

  it('workflows and escalation: retry, a person approves, a critical failure compensates and aborts', async () => {
    expect(await lines('guide-saga')).toEqual([
      'waiting for a person: fraud-check (low-confidence)', 'aborted: true', 'reserve attempts: 2', 'compensated: reserve', 'reservations left: 0',
    ]);
  });

  describe('on NATS', () => {
    let server: NatsServer;
    beforeAll(async () => {
      server = await startNatsServer();
    });
    afterAll(async () => {
      await server?.cleanup();
    });

    it('the cluster so far: two nodes see each other, and one asks a durable actor the other hosts', async () => {
      expect(await lines('guide-cluster', [], { TROUPE_NATS_URL: server.url })).toEqual(['nodes: node-a, node-b', 'asked from node-b: 2']);
    });

    it('durability: a process that dies after deliver() loses nothing; the next one recovers the actor', async () => {
      const env = { TROUPE_NATS_URL: server.url };
      expect(await lines('guide-durable', ['crash'], env)).toEqual(['delivered: 3']);
      expect(await lines('guide-durable', ['recover'], env)).toEqual(['recovered: guide/counter-1', 'count after recovery: 3']);
    });
  });
});
