/**
 * Passivation (issue 9, virtual actors): an idle durable actor is unloaded once its record says so, and its next
 * message or due timer loads it again with its state intact; an actor with work in flight (a step's promise) is
 * never unloaded; a node that takes over does not load passive actors until they are needed. On the embedded
 * default and on a real nats-server. Waits are bounded; no timing is asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { createManualClock, createSystem, InvalidConfigError, type TroupeSystem } from '../../src/index.js';
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

/** Naps `input.napMs` (an XState `after` timer), then finishes; a durable one passivated meanwhile is woken for it. */
const napper = setup({ types: {} as { context: { napMs: number; woke: number }; input: { napMs: number } }, delays: { nap: ({ context }) => context.napMs } }).createMachine({
  context: ({ input }) => ({ napMs: input.napMs, woke: 0 }),
  initial: 'napping',
  states: {
    napping: { after: { nap: { target: 'done', actions: assign({ woke: ({ context }) => context.woke + 1 }) } } },
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

  it('on NATS: a takeover reads the passive index, not the records; each actor wakes at its due time (held or read again) or on a message, and leaves the index', async () => {
    const clock = createManualClock(1_000_000);
    const options = { name: 'pass4', logLevel: 'silent' as const, clock, nats: { servers: server.url, shards: 2 } };
    const first = await createSystem({ ...options, passivateAfterMs: 50 });
    let second: TroupeSystem | undefined;
    const nc = await connect({ servers: server.url });
    const indexed = async () => {
      const keys: string[] = [];
      for await (const key of await (await new Kvm(nc).open('troupe_pass4_timers')).keys()) keys.push(key);
      return keys.sort();
    };
    const soon = ['soon-0', 'soon-1', 'soon-2', 'soon-3'];
    const later = ['later-0', 'later-1', 'later-2'];
    const never = ['never-0', 'never-1'];
    try {
      for (const system of [first]) {
        system.register('napper', napper, { version: 1 });
        system.register('counter', counter, { version: 1 });
      }
      await first.recover();
      await Promise.all([
        ...soon.map((id) => first.spawn('napper', { id, durable: true, input: { napMs: 6_000 } }).ready),
        ...later.map((id) => first.spawn('napper', { id, durable: true, input: { napMs: 3_600_000 } }).ready),
        ...never.map((id) => first.spawn('counter', { id, durable: true }).ready),
      ]);
      clock.advance(100); // idle for longer than passivateAfterMs on the actors' clock
      await until(10_000, 'all nine are unloaded', () => first.durabilityStats().passivated === 9 || undefined);
      // One entry per passivated actor, by shard, with its earliest due time (or none).
      const entries = await indexed();
      expect(entries).toHaveLength(9);
      expect(entries.filter((k) => k.endsWith('.never.pass4.never-0') || k.endsWith('.never.pass4.never-1'))).toHaveLength(2);
      expect(entries.filter((k) => /^s[01]\.1006\d{3}\.pass4\.soon-\d$/.test(k))).toHaveLength(4);
      await first.shutdown();
      // As if the process had died between never-1's passive record and its index entry.
      await (await new Kvm(nc).open('troupe_pass4_timers')).delete(entries.find((k) => k.endsWith('.never-1'))!);
      // later-2's record made undecodable: a takeover that read it would fail; put back before it is due.
      const snapshots = await new Kvm(nc).open('troupe_pass4_snapshots');
      const laterRecord = (await snapshots.get('pass4.later-2'))!.value.slice();
      await snapshots.put('pass4.later-2', new Uint8Array([0xc1, 0xc1, 0xc1]));

      second = await createSystem({ ...options, passivateAfterMs: false });
      second.register('napper', napper, { version: 1 });
      second.register('counter', counter, { version: 1 });
      expect(await second.recover()).toEqual([]); // nothing loaded: all nine are passive
      expect(second.durabilityStats().passiveListed).toBe(8); // never-1's record was read: indexed again
      expect(await indexed()).toEqual(entries);
      for (const id of [...soon, ...later, ...never]) expect(second.describe(`pass4/${id}`)).toBeUndefined();

      // Due within the wake horizon: held in memory, woken at their time, records read then.
      clock.advance(6_000);
      const done = (id: string) => second!.result(`pass4/${id}`, { timeoutMs: 15_000 });
      const soonDone = Promise.all(soon.map(done));
      await until(15_000, 'the soon ones finish', () => (clock.flush(), second!.describe('pass4/soon-0') === undefined && second!.durabilityStats().snapshotDeletes >= 4) || undefined);
      expect(await soonDone).toEqual(soon.map(() => ({ woke: 1 })));
      for (const id of later) expect(second.describe(`pass4/${id}`)).toBeUndefined();
      // A message wakes one with no timer; it leaves the index before its record is written active.
      await second.lookup('pass4/never-0').deliver({ type: 'inc' });
      expect(await second.lookup('pass4/never-0').ask({ type: 'get' }, { timeoutMs: 5_000 })).toBe(1);
      expect((await indexed()).map((k) => k.split('.').at(-1)).sort()).toEqual(['later-0', 'later-1', 'later-2', 'never-1']);

      // Past the horizon: left in the index, read again when they come within it.
      await snapshots.put('pass4.later-2', laterRecord);
      clock.advance(3_600_000);
      const laterDone = Promise.all(later.map(done));
      await until(15_000, 'the later ones finish', () => (clock.flush(), second!.durabilityStats().snapshotDeletes >= 7) || undefined);
      expect(await laterDone).toEqual(later.map(() => ({ woke: 1 })));
      expect((await indexed()).map((k) => k.split('.').at(-1)).sort()).toEqual(['never-1']);
    } finally {
      await first.shutdown();
      await second?.shutdown();
      await nc.close();
    }
  });

  it('refuses a bad passivateAfterMs naming the field', async () => {
    await expect(createSystem({ name: 'pass4', logLevel: 'silent', passivateAfterMs: 5 })).rejects.toBeInstanceOf(InvalidConfigError);
    await expect(createSystem({ name: 'pass4', logLevel: 'silent', passivateAfterMs: 1.5 })).rejects.toThrow(/passivateAfterMs/);
  });
});
