/**
 * Group `cluster` (issue 9): Troupe nodes in separate processes on one nats-server (its own, on a free loopback port).
 *
 *   cluster.tell_vs_nats       remote `tell` throughput to an actor on another node process over raw NATS publish /
 *                              subscribe of the same encoded envelope to a raw subscriber in that process, same run
 *                              (goal >= 0.7). Both send in windows of 200, each closed by a round trip, so neither
 *                              overruns its receiver.
 *   cluster.tell_vs_nats_decoding   the same against a raw twin that also msgpack-decodes each message it receives
 *                              (context for the figure above, whose raw receiver only counts: reported)
 *   cluster.tell_vs_nats_xstate   the same against a raw twin that decodes each message and sends its event to the same
 *                              machine run by `createActor`: XState over NATS by hand, without the runtime (reported)
 *   cluster.ask_p50_vs_nats    remote `ask` p50 latency over raw NATS request/reply p50 to a raw responder in that
 *                              process (goal <= 1.3)
 *   cluster.failover_ms        from kill -9 of the node running a durable workflow's step to the step resumed on the
 *                              surviving node, median of 5 (goal < node lease + 1,000 ms = 4,000 ms)
 *   cluster.rebalance_lost     messages lost or applied twice while a second node joins and takes its share of the
 *                              shards under a stream of deliveries (goal 0)
 *   cluster.idle_heap_bytes_per_workflow   heap per passivated waiting durable actor (each with a 30-minute deadline):
 *                              the heap's growth from 50,000 of them to 100,000, each reading after a full GC once
 *                              every actor spawned is unloaded (goal <= 300 B)
 *   cluster.live_heap_bytes_per_workflow   the same actors while loaded, beside it
 *   cluster.wake_p50_ms        a passivated actor's answer to an ask, which loads it from its record, p50 (reported)
 *
 * Method per DESIGN (Benchmarks): warm-up, rounds alternating baseline and candidate, the median of per-pair ratios.
 * `node dist/bench/cluster.js --node '<json>'` is a node process of this group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { assign, createActor, setup } from 'xstate';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createSystem, type TroupeSystem } from '../src/index.js';
import { decode, encodeEnvelope, eventEnvelope } from '../src/codec/index.js';
import { reply, step, workflow } from '../machines/index.js';
import { gc, median, nowMs, paired, percentile, report } from './harness.js';
import { startServer } from './nats-server.js';

const TELLS = 10_000;
const WINDOW = 200;
const ASKS = 2_000;
const FAILOVERS = 5;
const REBALANCE_MESSAGES = 400;
const PAD = 'x'.repeat(64);
const IDLE_ACTORS = 100_000;
const SPAWN_BATCH = 2_000;
const WAKES = 200;

// ---- a node process ------------------------------------------------------------------------------------------

interface NodeConfig {
  readonly url: string;
  readonly system: string;
  readonly nodeId: string;
  /** Hosts durable actors (recover()) and the failover workflow. */
  readonly host?: boolean;
  readonly shards?: number;
}

/** A node: the non-durable `sink` (counts ticks, answers pings), raw NATS twins of it, and durable actors when hosting. */
async function node(config: NodeConfig): Promise<void> {
  const system = await createSystem({ name: config.system, nodeId: config.nodeId, logLevel: 'silent', nats: { servers: config.url, shards: config.shards ?? 4 } });
  const sink = setup({}).createMachine({
    context: { ticks: 0 },
    on: {
      tick: { actions: assign({ ticks: ({ context }) => context.ticks + 1 }) },
      ping: { actions: reply(({ context }) => context.ticks) },
    },
  });
  const recorder = setup({}).createMachine({
    context: { ids: [] as string[] },
    on: {
      add: { actions: assign({ ids: ({ context, event }) => [...context.ids, (event as unknown as { id: string }).id] }) },
      ids: { actions: reply(({ context }) => context.ids) },
    },
  });
  const failover = workflow('fo', {
    steps: [
      step('s0', async () => 1),
      step('s1', async () => {
        process.stdout.write(`STEP ${config.nodeId}\n`);
        return new Promise(() => {});
      }),
    ],
  });
  system.register('sink', sink);
  system.register('rec', recorder, { version: 1 });
  system.register('fo', failover, { version: 1 });
  system.spawn('sink', { id: `sink-${config.nodeId}` });
  // The raw twins: a counter answering round trips with its count, and a responder echoing the payload.
  const nc = (system.transport as unknown as { connection: NatsConnection }).connection;
  let raw = 0;
  nc.subscribe(`rawbench.tell.${config.nodeId}`, { callback: () => void raw++ });
  nc.subscribe(`rawbench.sync.${config.nodeId}`, { callback: (_, m) => void m.respond(new TextEncoder().encode(String(raw))) });
  nc.subscribe(`rawbench.ask.${config.nodeId}`, { callback: (_, m) => void m.respond(m.data) });
  // A raw twin that also decodes what it receives, as any NATS application must before it can act on a message.
  let rawDecoded = 0;
  nc.subscribe(`rawbench.telld.${config.nodeId}`, { callback: (_, m) => void (decode(m.data) !== undefined && rawDecoded++) });
  nc.subscribe(`rawbench.syncd.${config.nodeId}`, { callback: (_, m) => void m.respond(new TextEncoder().encode(String(rawDecoded))) });
  // A raw twin that decodes each message and sends its event to the same machine run with `createActor`: XState over
  // NATS written by hand, with no runtime (what the runtime's own cost is measured against).
  const machineTwin = createActor(sink).start();
  nc.subscribe(`rawbench.tellx.${config.nodeId}`, { callback: (_, m) => machineTwin.send((decode(m.data) as { payload: { type: 'tick' } }).payload) });
  nc.subscribe(`rawbench.syncx.${config.nodeId}`, { callback: (_, m) => void m.respond(new TextEncoder().encode(String(machineTwin.getSnapshot().context.ticks))) });
  if (config.host) await system.recover();
  process.stdout.write('READY\n');
  process.on('SIGTERM', () => void system.shutdown().finally(() => process.exit(0)));
}

interface NodeProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  /** Resolves with the time a line starting with `prefix` appeared on the node's stdout. */
  line(prefix: string, timeoutMs?: number): Promise<{ at: number; text: string }>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

function startNode(config: NodeConfig): NodeProcess {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--node', JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines: { at: number; text: string }[] = [];
  const waiters: (() => void)[] = [];
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      lines.push({ at: nowMs(), text: buffered.slice(0, newline) });
      buffered = buffered.slice(newline + 1);
      for (const wake of waiters.splice(0)) wake();
    }
  });
  return {
    child,
    exited,
    line: async (prefix, timeoutMs = 30_000) => {
      const deadline = nowMs() + timeoutMs;
      for (;;) {
        const found = lines.find((l) => l.text.startsWith(prefix));
        if (found) return found;
        if (nowMs() > deadline) throw new Error(`node ${config.nodeId}: no "${prefix}" within ${timeoutMs} ms`);
        await Promise.race([new Promise<void>((resolve) => waiters.push(resolve)), exited.then(() => { throw new Error(`node ${config.nodeId} exited before "${prefix}"`); }), sleep(100)]);
      }
    },
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---- tell and ask against raw NATS ---------------------------------------------------------------------------

async function tellAndAsk(url: string, driver: TroupeSystem, nc: NatsConnection): Promise<void> {
  const remote = startNode({ url, system: 'cbench', nodeId: 'far' });
  try {
    await remote.line('READY');
    const sink = driver.lookup('cbench/sink-far');
    const tick = { type: 'tick', pad: PAD };
    const payload = encodeEnvelope(eventEnvelope('bench.1', 'cbench/sink-far', tick, Date.now(), { from: 'cbench/driver' }));
    await sink.ask({ type: 'ping' }, { timeoutMs: 10_000 });

    const troupeTells = async (): Promise<number> => {
      const start = nowMs();
      for (let sent = 0; sent < TELLS; ) {
        for (let i = 0; i < WINDOW; i++, sent++) sink.tell(tick);
        await sink.ask({ type: 'ping' }, { timeoutMs: 30_000 });
      }
      return nowMs() - start;
    };
    /** Raw publishes to a twin (`tell`: it counts, `telld`: it decodes too), each window closed by its sync request. */
    const rawTellsTo = (tell: string, sync: string) => async (): Promise<number> => {
      const start = nowMs();
      for (let sent = 0; sent < TELLS; ) {
        for (let i = 0; i < WINDOW; i++, sent++) nc.publish(tell, payload);
        await nc.request(sync, new Uint8Array(0), { timeout: 30_000 });
      }
      return nowMs() - start;
    };
    const tells = await paired({ warmup: 1, rounds: 5, baseline: rawTellsTo('rawbench.tell.far', 'rawbench.sync.far'), candidate: troupeTells });
    const decodingTells = await paired({ warmup: 1, rounds: 5, baseline: rawTellsTo('rawbench.telld.far', 'rawbench.syncd.far'), candidate: troupeTells });
    const machineTells = await paired({ warmup: 1, rounds: 5, baseline: rawTellsTo('rawbench.tellx.far', 'rawbench.syncx.far'), candidate: troupeTells });
    const expected = 18 * TELLS; // three series of a warm-up and five rounds: every tell arrived (a window's round trip follows it)
    const counted = await sink.ask<number>({ type: 'ping' }, { timeoutMs: 10_000 });
    if (counted !== expected) throw new Error(`cluster bench: the remote sink counted ${counted} tells, not ${expected}`);
    report('cluster', 'tell_per_s', (TELLS / median(tells.candidate)) * 1_000, 'msg/s');
    report('cluster', 'raw_tell_per_s', (TELLS / median(tells.baseline)) * 1_000, 'msg/s');
    report('cluster', 'tell_vs_nats', tells.speedRatio, 'x');
    report('cluster', 'tell_vs_nats_decoding', decodingTells.speedRatio, 'x');
    report('cluster', 'tell_vs_nats_xstate', machineTells.speedRatio, 'x');

    const ping = { type: 'ping' };
    const askPayload = encodeEnvelope(eventEnvelope('bench.2', 'cbench/sink-far', ping, Date.now(), { from: 'cbench/driver', correlationId: 'c1' }));
    const troupeAsks: number[] = [];
    const rawAsks: number[] = [];
    for (let round = 0; round < 2; round++) {
      troupeAsks.length = 0;
      rawAsks.length = 0;
      for (let i = 0; i < ASKS; i++) {
        // Alternating, so both see the same machine state.
        let t = nowMs();
        await nc.request('rawbench.ask.far', askPayload, { timeout: 10_000 });
        rawAsks.push(nowMs() - t);
        t = nowMs();
        await sink.ask(ping, { timeoutMs: 10_000 });
        troupeAsks.push(nowMs() - t);
      }
    }
    report('cluster', 'ask_p50_ms', median(troupeAsks), 'ms');
    report('cluster', 'raw_ask_p50_ms', median(rawAsks), 'ms');
    report('cluster', 'ask_p99_ms', percentile(troupeAsks, 99), 'ms');
    report('cluster', 'ask_p50_vs_nats', median(troupeAsks) / median(rawAsks), 'x');
  } finally {
    await remote.kill('SIGTERM');
  }
}

// ---- failover: kill -9 of the node running a step, to the step resumed on the survivor --------------------------

async function failover(url: string, driver: (name: string) => Promise<TroupeSystem>): Promise<number[]> {
  const times: number[] = [];
  for (let trial = 0; trial < FAILOVERS; trial++) {
    const system = `cfo${trial}`;
    const nodes = [startNode({ url, system, nodeId: 'a', host: true, shards: 2 }), startNode({ url, system, nodeId: 'b', host: true, shards: 2 })];
    try {
      await Promise.all(nodes.map((n) => n.line('READY')));
      // Wait until each holds one shard, so the workflow lands on one and the other survives with the other.
      const client = await driver(system);
      try {
        for (let i = 0; ; i++) {
          const hosting = (await client.nodes()).filter((n) => n.hosting);
          if (hosting.length === 2 && hosting.every((n) => n.shards.length === 1)) break;
          if (i > 300) throw new Error('cluster bench: the shards never split over two nodes');
          await sleep(50);
        }
        client.register('fo', workflow('fo', { steps: [step('s0', async () => 1), step('s1', async () => new Promise(() => {}))] }), { version: 1 });
        client.spawn('fo', { id: 'wf', durable: true, input: { workflowId: 'wf', address: `${system}/wf` } });
      } finally {
        await client.shutdown();
      }
      const first = await Promise.race(nodes.map((n) => n.line('STEP', 30_000)));
      const victim = nodes.find((n) => first.text === `STEP ${n === nodes[0] ? 'a' : 'b'}`)!;
      const survivor = nodes.find((n) => n !== victim)!;
      await sleep(200); // the step's running state is stored
      const killedAt = nowMs();
      await victim.kill('SIGKILL');
      const resumed = await survivor.line('STEP', 30_000);
      times.push(resumed.at - killedAt);
    } finally {
      await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
    }
  }
  return times;
}

// ---- rebalance: deliveries while a node joins ------------------------------------------------------------------

async function rebalance(url: string, driver: TroupeSystem): Promise<number> {
  const first = startNode({ url, system: 'creb', nodeId: 'h1', host: true, shards: 8 });
  let second: NodeProcess | undefined;
  try {
    await first.line('READY');
    const recorders = Array.from({ length: 8 }, (_, i) => driver.lookup(`creb/rec-${i}`));
    // Spawned from the driver, which hosts nothing: the spawn requests reach h1, which holds every shard.
    for (let i = 0; i < 8; i++) driver.spawn('rec', { id: `rec-${i}`, durable: true });
    const sent = new Map<number, string[]>();
    const sending = (async () => {
      for (let n = 0; n < REBALANCE_MESSAGES; n++) {
        const r = n % 8;
        await recorders[r]!.deliver({ type: 'add', id: `m${n}` });
        sent.set(r, [...(sent.get(r) ?? []), `m${n}`]);
        if (n === 40) second = startNode({ url, system: 'creb', nodeId: 'h2', host: true, shards: 8 });
        await sleep(10);
      }
    })();
    await sending;
    await second?.line('READY');
    let wrong = 0;
    for (let r = 0; r < 8; r++) {
      const applied = await recorders[r]!.ask<string[]>({ type: 'ids' }, { timeoutMs: 30_000 });
      const expected = sent.get(r) ?? [];
      wrong += expected.filter((m) => !applied.includes(m)).length; // lost
      wrong += applied.length - new Set(applied).size; // applied twice
    }
    const moved = (await driver.nodes()).find((n) => n.node === 'h2')?.shards.length ?? 0;
    if (moved === 0) console.error('cluster bench: h2 took no shard during the rebalance run');
    return wrong;
  } finally {
    await second?.kill('SIGTERM');
    await first.kill('SIGTERM');
  }
}

// ---- passivation: heap per unloaded waiting actor, and the cost of loading one --------------------------------

/**
 * A durable actor waiting for a decision, with a 30-minute deadline: what a workflow waiting for a person is, between
 * its steps. Its deadline waits in the passive index (troupe_<system>_timers), not in this node's heap.
 */
const waiter = setup({}).createMachine({
  initial: 'waiting',
  context: { asked: 0 },
  states: {
    waiting: { on: { decide: 'decided' }, after: { 1_800_000: 'expired' } },
    decided: { type: 'final' },
    expired: { type: 'final' },
  },
  on: { ping: { actions: [assign({ asked: ({ context }) => context.asked + 1 }), reply(({ context }) => context.asked)] } },
});

async function passivation(url: string): Promise<void> {
  const system = await createSystem({ name: 'cidle', nodeId: 'idle', logLevel: 'silent', passivateAfterMs: 50, nats: { servers: url, shards: 8 } });
  try {
    system.register('waiter', waiter, { version: 1 });
    await system.recover();
    const heap = () => {
      gc();
      return process.memoryUsage().heapUsed;
    };
    // Warm-up: the code paths, and the buffers and tables a batch grows, exist before anything is measured.
    const WARM = SPAWN_BATCH;
    await Promise.all(Array.from({ length: WARM }, (_, i) => system.spawn('waiter', { id: `warm-${i}`, durable: true }).ready));
    await until(60_000, () => system.durabilityStats().passivated >= WARM);
    const liveBefore = system.runtimeStats().actors;
    /** The heap once every actor spawned so far is unloaded (none still stopping). */
    const settledHeap = async (): Promise<number> => {
      await until(120_000, () => system.runtimeStats().actors === liveBefore);
      return heap();
    };
    // The figure is the slope between two readings taken in the same state — after half of the actors, and after all
    // of them, each once its batch is unloaded — so what a batch leaves in flight (connection buffers, grown tables:
    // some 18 MB, which moved a before/after reading by ±180 B per actor either way) is in both and cancels out.
    const half = IDLE_ACTORS / 2;
    let atHalf = 0;
    let liveBytes = 0;
    const before = await settledHeap();
    for (let spawned = 0; spawned < IDLE_ACTORS; spawned += SPAWN_BATCH) {
      const batch = Array.from({ length: SPAWN_BATCH }, (_, i) => system.spawn('waiter', { id: `w-${spawned + i}`, durable: true }));
      await Promise.all(batch.map((ref) => ref.ready));
      if (spawned === 0) liveBytes = (heap() - before) / SPAWN_BATCH; // one batch loaded: the live cost beside it
      await until(120_000, () => system.durabilityStats().passivated >= WARM + spawned + SPAWN_BATCH);
      if (spawned + SPAWN_BATCH === half) atHalf = await settledHeap();
    }
    const atEnd = await settledHeap();
    report('cluster', 'idle_heap_bytes_per_workflow', (atEnd - atHalf) / (IDLE_ACTORS - half), 'B');
    report('cluster', 'live_heap_bytes_per_workflow', liveBytes, 'B');
    const wakes: number[] = [];
    for (let i = 0; i < WAKES; i++) {
      const ref = system.lookup(`cidle/w-${i * 397}`);
      const t = nowMs();
      await ref.ask({ type: 'ping' }, { timeoutMs: 10_000 });
      wakes.push(nowMs() - t);
    }
    report('cluster', 'wake_p50_ms', median(wakes), 'ms');
  } finally {
    await system.shutdown();
  }
}

async function until(ms: number, check: () => boolean): Promise<void> {
  const deadline = nowMs() + ms;
  while (!check()) {
    if (nowMs() > deadline) throw new Error(`cluster bench: a wait of ${ms} ms ran out`);
    await sleep(20);
  }
}

// ---- the group ----------------------------------------------------------------------------------------------

export async function run(): Promise<void> {
  const server = await startServer();
  const clients: TroupeSystem[] = [];
  const client = async (name: string, shards = 4) => {
    const system = await createSystem({ name, nodeId: 'driver', logLevel: 'silent', nats: { servers: server.url, shards, hostsDurable: false } });
    clients.push(system);
    return system;
  };
  const nc = await connect({ servers: server.url, noAsyncTraces: true });
  try {
    const driver = await client('cbench');
    await tellAndAsk(server.url, driver, nc);
    await driver.shutdown();

    const failovers = await failover(server.url, (name) => client(name, 2));
    report('cluster', 'failover_ms', median(failovers), 'ms');
    report('cluster', 'failover_max_ms', Math.max(...failovers), 'ms');

    const rebalancer = await client('creb', 8);
    rebalancer.register('rec', setup({}).createMachine({}), { version: 1 }); // the spawn is validated here, run on h1
    report('cluster', 'rebalance_lost', await rebalance(server.url, rebalancer), 'messages');

    await passivationInFreshProcess(server.url);
  } finally {
    await nc.close();
    for (const system of clients) await system.shutdown().catch(() => undefined);
    await server.stop();
  }
}

/**
 * The passivation figures come from a process of their own: in the driver, what the earlier phases left (buffers of
 * the connection, of the codec) grew or shrank by some 18 MB between the two heap readings in some runs, which is
 * ±180 B per idle actor (runs read 2 B, -2 B and 247 B).
 */
async function passivationInFreshProcess(url: string): Promise<void> {
  const child = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--passivation', url], { stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`cluster bench: the passivation process exited with ${code}`);
}

if (process.argv[2] === '--passivation') {
  void passivation(process.argv[3]!).then(() => process.exit(0), (error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

if (process.argv[2] === '--node') {
  void node(JSON.parse(process.argv[3]!) as NodeConfig).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
