/**
 * Passivation (issue 9, virtual actors): an idle durable actor is unloaded once its record says so, and its next
 * message or due timer loads it again with its state intact; an actor with work in flight (a step's promise) is
 * never unloaded; a node that takes over does not load passive actors until they are needed. On the embedded
 * default and on a real nats-server. Waits are bounded; no timing is asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { createSystem, InvalidConfigError, type TroupeSystem } from '../../src/index.js';
import { reply, step, workflow } from '../../machines/index.js';
import { until } from '../fixtures/chaos.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

const counter = setup({}).createMachine({
  context: { count: 0 },
  on: {
    inc: { actions: assign({ count: ({ context }) => context.count + 1 }) },
    get: { actions: reply(({ context }) => context.count) },
  },
});

/** Waits `delayMs` (an XState `after` timer), then finishes with its count. */
const sleeper = setup({}).createMachine({
  initial: 'waiting',
  context: { woke: 0 },
  states: {
    waiting: { after: { 400: { target: 'done', actions: assign({ woke: ({ context }) => context.woke + 1 }) } } },
    done: { type: 'final' },
  },
  output: ({ context }) => ({ woke: context.woke }),
});

let server: NatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.cleanup();
});

describe('passivation (issue 9)', () => {
  it('unloads an idle actor and loads it again on its next message, state intact (embedded default)', async () => {
    const system = await createSystem({ name: 'pass1', logLevel: 'silent', passivateAfterMs: 50 });
    try {
      system.register('counter', counter, { version: 1 });
      const ref = system.spawn('counter', { id: 'c', durable: true });
      for (let i = 0; i < 3; i++) await ref.deliver({ type: 'inc' });
      expect(await ref.ask({ type: 'get' })).toBe(3);
      await until(5_000, 'the idle counter is unloaded', () => system.durabilityStats().passivated === 1 && system.describe('pass1/c') === undefined);
      await ref.deliver({ type: 'inc' });
      expect(await ref.ask({ type: 'get' })).toBe(4);
      expect(system.describe('pass1/c')).toBeDefined();
    } finally {
      await system.shutdown();
    }
  });

  it('a passivated actor is woken by its due timer; one with a step in flight is never unloaded', async () => {
    const system = await createSystem({ name: 'pass2', logLevel: 'silent', passivateAfterMs: 50 });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    try {
      system.register('sleeper', sleeper, { version: 1 });
      system.register('busy', workflow('busy', { steps: [step('hold', async () => (await held, 'released'))] }), { version: 1 });
      const sleeping = system.spawn('sleeper', { id: 's', durable: true });
      const busy = system.spawn('busy', { id: 'b', durable: true, input: { workflowId: 'b', address: 'pass2/b' } });
      await until(5_000, 'the sleeper is unloaded before its timer', () => system.describe('pass2/s') === undefined || undefined);
      expect(await sleeping.result({ timeoutMs: 10_000 })).toEqual({ woke: 1 }); // loaded again by its timer
      expect(system.describe('pass2/b')).toBeDefined(); // its step is still running: never unloaded
      expect(system.durabilityStats().passivated).toBe(1);
      release();
      expect(await busy.result({ timeoutMs: 10_000 })).toMatchObject({ status: 'completed' });
    } finally {
      release();
      await system.shutdown();
    }
  });

  it('on NATS: a node that takes over does not load passive actors; a message loads one with its state', async () => {
    const options = { name: 'pass3', logLevel: 'silent' as const, nats: { servers: server.url, shards: 2 } };
    const first = await createSystem({ ...options, passivateAfterMs: 50 });
    let second: TroupeSystem | undefined;
    try {
      first.register('counter', counter, { version: 1 });
      await first.recover();
      const idle = first.spawn('counter', { id: 'idle', durable: true });
      await idle.deliver({ type: 'inc' });
      expect(await idle.ask({ type: 'get' }, { timeoutMs: 5_000 })).toBe(1);
      await until(5_000, 'the idle counter is unloaded', () => first.durabilityStats().passivated >= 1);
      await first.shutdown();

      second = await createSystem({ ...options, passivateAfterMs: false });
      second.register('counter', counter, { version: 1 });
      expect(await second.recover()).not.toContain('pass3/idle');
      expect(second.describe('pass3/idle')).toBeUndefined();
      await second.lookup('pass3/idle').deliver({ type: 'inc' });
      expect(await second.lookup('pass3/idle').ask({ type: 'get' }, { timeoutMs: 5_000 })).toBe(2);
    } finally {
      await first.shutdown();
      await second?.shutdown();
    }
  });

  it('refuses a bad passivateAfterMs naming the field', async () => {
    await expect(createSystem({ name: 'pass4', logLevel: 'silent', passivateAfterMs: 5 })).rejects.toBeInstanceOf(InvalidConfigError);
    await expect(createSystem({ name: 'pass4', logLevel: 'silent', passivateAfterMs: 1.5 })).rejects.toThrow(/passivateAfterMs/);
  });
});
