/**
 * Issue 8, "Waiting for a result" and "Durable dead letters", on a real nats-server through the public API:
 * `system.result()` / `ref.result()` read the persisted outcome from any system instance connected to the system
 * (also one that never ran the actor, after the one that did has gone), and the dead-letter stream is listed and
 * re-delivered from `system.deadLetters`.
 */
import { assign, setup } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escrow, step, workflow } from '../../machines/index.js';
import { reply } from '../../machines/emit.js';
import { Aborted, ActorFailedError, createSystem, NonRetryableError, TimeoutError, type TroupeSystem } from '../../src/index.js';
import { until } from '../fixtures/chaos.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

let server: NatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.cleanup();
});

/** A counter that finishes at `finishAt`, and whose `poison` handler throws unless the event says `ok`. */
const counter = setup({
  types: {
    context: {} as { seen: number[] },
    input: {} as { finishAt: number },
    events: {} as { type: 'inc'; n: number } | { type: 'poison'; ok?: boolean; n: number } | { type: 'get' },
  },
  actions: { explode: () => { throw new Error('poisoned'); } },
}).createMachine({
  context: { seen: [] },
  initial: 'counting',
  states: {
    counting: {
      always: { guard: ({ context }) => context.seen.length >= 3, target: 'finished' },
      on: {
        inc: { actions: assign({ seen: ({ context, event }) => [...context.seen, event.n] }) },
        poison: [
          { guard: ({ event }) => event.ok === true, actions: assign({ seen: ({ context, event }) => [...context.seen, event.n] }) },
          { actions: 'explode' },
        ],
        get: { actions: reply(({ context }) => context.seen) },
      },
    },
    finished: { type: 'final' },
  },
  output: ({ context }) => ({ seen: context.seen }),
});

async function open(name: string, options: { intensity?: number } = {}): Promise<TroupeSystem> {
  const supervision = options.intensity === undefined ? {} : { supervision: { intensity: options.intensity, backoff: { minMs: 0, jitter: 0 } } };
  const system = await createSystem({ name, logLevel: 'silent', nats: { servers: server.url, shards: 2 }, ...supervision });
  system.register('counter', counter);
  return system;
}

describe('results and dead letters of durable actors (issue 8)', () => {
  it('result() resolves with the persisted output, also in a system instance that never ran the actor', async () => {
    const host = await open('res1');
    await host.recover();
    const ref = host.spawn<typeof counter>('counter', { id: 'c1', durable: true });
    const observer = await open('res1'); // a second instance of the system: it only reads
    const waiting = observer.result<{ seen: number[] }>('res1/c1', { timeoutMs: 10_000 });
    for (const n of [1, 2, 3]) await ref.deliver({ type: 'inc', n });
    expect(await ref.result()).toEqual({ seen: [1, 2, 3] });
    expect(await waiting).toEqual({ seen: [1, 2, 3] });
    await host.shutdown();
    // The process that ran it is gone: the stored record still answers.
    expect(await observer.result('res1/c1')).toEqual({ seen: [1, 2, 3] });
    await expect(observer.result('res1/nobody', { timeoutMs: 200 })).rejects.toBeInstanceOf(TimeoutError);
    await observer.shutdown();
  });

  it('a node keeps only its live durable actors in memory: the ones that finished are let go once stored', async () => {
    const system = await open('res7');
    try {
      await system.recover();
      const refs = Array.from({ length: 60 }, (_, i) => system.spawn<typeof counter>('counter', { id: `done-${i}`, durable: true }));
      const waiting = Array.from({ length: 5 }, (_, i) => system.spawn<typeof counter>('counter', { id: `waiting-${i}`, durable: true }));
      await Promise.all(refs.map(async (ref, i) => {
        for (const n of [1, 2, 3]) await ref.deliver({ type: 'inc', n: i * 10 + n });
        expect(await ref.result()).toEqual({ seen: [i * 10 + 1, i * 10 + 2, i * 10 + 3] });
      }));
      await Promise.all(waiting.map((ref) => ref.deliver({ type: 'inc', n: 1 })));
      // Only the five still running stay loaded (it was every actor ever run: a leak of each one's last snapshot).
      await until(5_000, 'the finished actors are let go', () => system.durabilityStats().loaded === 5);
      expect(system.runtimeStats().actors).toBe(5);
      for (const ref of waiting) await ref.deliver({ type: 'inc', n: 2 }).then(() => ref.deliver({ type: 'inc', n: 3 }));
      await Promise.all(waiting.map((ref) => ref.result()));
      await until(5_000, 'the last ones are let go', () => system.durabilityStats().loaded === 0);
    } finally {
      await system.shutdown();
    }
  });

  it('a failed handler is in the dead-letter stream with its reason and incarnation; redeliver applies it again', async () => {
    const system = await open('res2');
    await system.recover();
    const ref = system.spawn<typeof counter>('counter', { id: 'c2', durable: true });
    await ref.deliver({ type: 'inc', n: 1 });
    await ref.deliver({ type: 'poison', n: 2 });
    await ref.deliver({ type: 'inc', n: 3 });
    await expect.poll(() => ref.ask({ type: 'get' }), { timeout: 10_000 }).toEqual([1, 3]);
    const letters = await system.deadLetters.list();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ address: 'res2/c2', event: { type: 'poison', n: 2 }, incarnation: expect.any(Number) });
    expect(letters[0]!.reason).toMatch(/handler failed/);
    // Re-delivered as it was stored, it fails again: a second entry would only be the same bytes (stored once).
    await system.deadLetters.redeliver(letters[0]!.dlqSeq);
    await ref.deliver({ type: 'poison', ok: true, n: 4 });
    expect(await ref.result({ timeoutMs: 10_000 })).toEqual({ seen: [1, 3, 4] });
    expect(await system.deadLetters.list()).toHaveLength(1);
    await system.shutdown();
  });

  it('an actor its supervisor gave up on rejects with ActorFailedError, in this instance and the next, and is not recovered', async () => {
    const system = await open('res3');
    await system.recover();
    const strict = system.supervisor('strict', { decide: () => 'stop' });
    const ref = system.spawn<typeof counter>('counter', { id: 'c3', durable: true, parent: strict });
    await ref.deliver({ type: 'inc', n: 1 });
    expect(await ref.ask({ type: 'get' })).toEqual([1]); // answered once stored
    await ref.deliver({ type: 'poison', n: 2 });
    await expect(ref.result({ timeoutMs: 10_000 })).rejects.toBeInstanceOf(ActorFailedError);
    await ref.deliver({ type: 'inc', n: 3 }); // to an actor that was given up on: a dead letter, never applied
    await expect.poll(async () => (await system.deadLetters.list()).map((d) => d.event?.type), { timeout: 10_000 }).toEqual(['poison', 'inc']);
    await system.shutdown();
    const next = await open('res3');
    next.supervisor('strict', { decide: () => 'stop' });
    expect(await next.recover()).toEqual([]);
    await expect(next.result('res3/strict/c3')).rejects.toBeInstanceOf(ActorFailedError);
    await next.shutdown();
  });

  it('a durable actor whose failure brings the root down is recorded failed: the next start does not resurrect it', async () => {
    const system = await open('res5', { intensity: 0 });
    await system.recover();
    const ref = system.spawn<typeof counter>('counter', { id: 'c5', durable: true });
    await ref.deliver({ type: 'poison', n: 1 });
    expect((await system.terminated).reason).toBe('failed');
    const next = await open('res5');
    expect(await next.recover()).toEqual([]);
    await expect(next.result('res5/c5')).rejects.toBeInstanceOf(ActorFailedError);
    await next.shutdown();
  });

  it('an aborted workflow rejects with Aborted, carrying the failed step and its cause', async () => {
    const system = await open('res4');
    await system.recover();
    const flow = workflow('abort-me', {
      steps: [
        step('reserve', async () => 'reserved', { compensate: async () => 'released' }),
        step('charge', async () => { throw new NonRetryableError('card declined'); }, { critical: true }),
      ],
    });
    system.register('abort-me', flow);
    system.spawn(system.register('escrow', escrow), { id: 'escrow' }); // a saga can escalate a failed compensation
    system.spawn('abort-me', { id: 'w1', durable: true, input: { workflowId: 'w1', address: 'res4/w1' } });
    const error = await system.result('res4/w1', { timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Aborted);
    expect((error as Aborted).data).toMatchObject({ address: 'res4/w1', stepId: 'charge' });
    expect(((error as Aborted).cause as Error).message).toMatch(/card declined/);
    await system.shutdown();
  });
});

describe('the mailbox duplicate window is configurable (issue 8)', () => {
  it('nats.duplicateWindowMs sets the stream\'s window; a bad value is refused naming the field', async () => {
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const { connectNats } = await import('../../src/transport/nats/connection-options.js');
    const { InvalidConfigError } = await import('../../src/index.js');
    const system = await createSystem({ name: 'dupwin', logLevel: 'silent', nats: { servers: server.url, duplicateWindowMs: 5_000 } });
    const nc = await connectNats({ servers: server.url });
    try {
      const info = await (await jetstreamManager(nc)).streams.info('TROUPE_dupwin_MBOX');
      expect(info.config.duplicate_window).toBe(5_000 * 1_000_000);
    } finally {
      await nc.close();
      await system.shutdown();
    }
    await expect(createSystem({ name: 'dupwin2', logLevel: 'silent', nats: { servers: server.url, duplicateWindowMs: 0 } })).rejects.toBeInstanceOf(InvalidConfigError);
  });
});
