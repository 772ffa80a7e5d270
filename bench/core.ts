/**
 * Group `core` (issue 2): tell throughput through a supervised runtime actor against raw XState
 * `actor.send()` on the same machine logic; heap per supervised actor against a raw XState actor; restart
 * latency from a crash to the new incarnation handling a message (backoff minMs 0).
 */
import { assign, createActor, setup } from 'xstate';
import { reply } from '../machines/emit.js';
import { createSystem, type ActorRef, type TroupeSystem } from '../src/index.js';
import { gc, median, nowMs, paired, percentile, report } from './harness.js';

const counter = setup({
  types: { context: {} as { count: number }, events: {} as { type: 'inc' } | { type: 'get' } | { type: 'crash' } },
  actions: {
    explode: () => {
      throw new Error('crash (benchmark)');
    },
  },
}).createMachine({
  context: { count: 0 },
  on: {
    inc: { actions: assign({ count: ({ context }) => context.count + 1 }) },
    get: { actions: reply(({ context }) => context.count) },
    crash: { actions: 'explode' },
  },
});

const MESSAGES = 200_000;
const ACTORS = 100_000;

async function newSystem(name: string, overrides: Parameters<typeof createSystem>[0] = { name }): Promise<TroupeSystem> {
  return createSystem({ logLevel: 'silent', ...overrides, name });
}

async function rawSend(): Promise<number> {
  const actor = createActor(counter).start();
  const start = nowMs();
  for (let i = 0; i < MESSAGES; i++) actor.send({ type: 'inc' });
  const elapsed = nowMs() - start;
  if (actor.getSnapshot().context.count !== MESSAGES) throw new Error('raw baseline lost messages');
  actor.stop();
  return elapsed;
}

async function troupeTell(): Promise<number> {
  const system = await newSystem('benchtell');
  system.register('counter', counter);
  const sup = system.supervisor('workers');
  const ref = system.spawn<typeof counter>('counter', { id: 'c', parent: sup, mailboxCapacity: MESSAGES + 1 });
  const start = nowMs();
  for (let i = 0; i < MESSAGES; i++) ref.tell({ type: 'inc' });
  // Timed until the last message is handled: the ask queues behind every tell.
  const count = await ref.ask<number>({ type: 'get' }, { timeoutMs: 60_000 });
  const elapsed = nowMs() - start;
  if (count !== MESSAGES) throw new Error(`runtime lost messages: ${count}`);
  await system.shutdown();
  return elapsed;
}

async function rawHeap(): Promise<number> {
  gc();
  const before = process.memoryUsage().heapUsed;
  const actors = [];
  for (let i = 0; i < ACTORS; i++) {
    const actor = createActor(counter).start();
    actor.send({ type: 'inc' });
    actors.push(actor);
  }
  gc();
  const perActor = (process.memoryUsage().heapUsed - before) / ACTORS;
  for (const actor of actors) actor.stop();
  return perActor;
}

async function troupeHeap(): Promise<number> {
  const system = await newSystem('benchheap');
  system.register('counter', counter);
  const sup = system.supervisor('workers');
  gc();
  const before = process.memoryUsage().heapUsed;
  const refs: ActorRef[] = [];
  for (let i = 0; i < ACTORS; i++) {
    const ref = system.spawn('counter', { id: `a${i}`, parent: sup });
    ref.tell({ type: 'inc' });
    refs.push(ref);
  }
  await new Promise((resolve) => setImmediate(resolve));
  const handled = await refs[ACTORS - 1]!.ask<number>({ type: 'get' });
  if (handled !== 1) throw new Error('heap candidate: message not handled');
  gc();
  const perActor = (process.memoryUsage().heapUsed - before) / ACTORS;
  await system.shutdown({ timeoutMs: 60_000 });
  return perActor;
}

async function restartLatencies(samples: number): Promise<number[]> {
  const system = await newSystem('benchrestart', {
    name: 'benchrestart',
    supervision: { intensity: samples + 10, periodMs: 60_000, backoff: { minMs: 0, jitter: 0 } },
  });
  system.register('counter', counter);
  const sup = system.supervisor('workers', { intensity: samples + 10, periodMs: 60_000, backoff: { minMs: 0, jitter: 0 } });
  const ref = system.spawn<typeof counter>('counter', { id: 'c', parent: sup });
  const latencies: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = nowMs();
    ref.tell({ type: 'crash' });
    await ref.ask({ type: 'get' });
    latencies.push(nowMs() - start);
  }
  await system.shutdown();
  return latencies;
}

export async function run(): Promise<void> {
  const tell = await paired({ warmup: 2, rounds: 7, baseline: rawSend, candidate: troupeTell });
  report('core', 'tell_per_s', MESSAGES / (median(tell.candidate) / 1000), 'msg/s');
  report('core', 'xstate_send_per_s', MESSAGES / (median(tell.baseline) / 1000), 'msg/s');
  report('core', 'tell_vs_xstate', tell.speedRatio, 'ratio');

  const heapRatios: number[] = [];
  const heapRaw: number[] = [];
  const heapTroupe: number[] = [];
  await rawHeap(); // warm-up
  for (let i = 0; i < 5; i++) {
    const raw = await rawHeap();
    const troupe = await troupeHeap();
    heapRaw.push(raw);
    heapTroupe.push(troupe);
    heapRatios.push(troupe / raw);
  }
  report('core', 'heap_per_actor_bytes', median(heapTroupe), 'B');
  report('core', 'heap_per_xstate_actor_bytes', median(heapRaw), 'B');
  report('core', 'heap_vs_xstate', median(heapRatios), 'ratio');

  await restartLatencies(200); // warm-up
  const latencies = await restartLatencies(2_000);
  report('core', 'restart_p50_ms', percentile(latencies, 50), 'ms');
  report('core', 'restart_p99_ms', percentile(latencies, 99), 'ms');
}
