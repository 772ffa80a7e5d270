/**
 * The durable host lock's logic (issue 8: one host until leases exist), over the memory snapshot store and the
 * memory transport (which answers "no responders" like NATS), with a manual clock. Each "process" gets its own
 * view of the shared bus, so a test can kill one (its subscriptions vanish, its timers never fire) or pause it
 * (it answers nothing and its timers wait until it resumes).
 */
import { describe, expect, it } from 'vitest';
import { createManualClock, createSystem, DurableHostLockedError, InvalidConfigError, SystemStoppedError, TimeoutError, type Clock, type ManualClock, type Transport } from '../../src/index.js';
import { HOST_LOCK_KEY, HostLock, hostSubject, resolveHostLeaseMs, type HostLockHolder } from '../../src/durable/host-lock.js';
import { silentLogger } from '../../src/log/index.js';
import { createMemorySnapshotStore } from '../../src/persistence/memory/memory-snapshot-store.js';
import type { SnapshotStore } from '../../src/persistence/snapshot-store.js';
import { createMemoryTransport } from '../../src/transport/memory/memory-transport.js';

const LEASE = 3_000;
const SYSTEM = 'locks';

interface Proc {
  readonly node: string;
  readonly lock: HostLock;
  readonly lost: DurableHostLockedError[];
  kill(): void;
  pause(): void;
  resume(): void;
  /** Answers nothing (requests to it time out) while its timers run. */
  deafen(): void;
}

/** One shared bus and store (the "NATS server"), one clock, and processes on them. */
function world(store: SnapshotStore = createMemorySnapshotStore()) {
  const clock = createManualClock(1_000_000);
  const bus = createMemoryTransport();
  const silent = new Set<string>();
  let tokens = 0;

  function proc(node: string, leaseMs = LEASE): Proc {
    const subs = new Set<{ unsubscribe(): void }>();
    let dead = false;
    let held: (() => void)[] | undefined; // timers due while paused
    const transport: Transport = {
      ...bus,
      subscribe(subject, handler, options) {
        const sub = bus.subscribe(subject, (m) => !silent.has(node) && handler(m), options);
        subs.add(sub);
        return { unsubscribe: () => (subs.delete(sub), sub.unsubscribe()) };
      },
      async request(subject, data, options) {
        // A paused process keeps its connection: the server routes the request and the asker times out.
        const target = [...silent].find((n) => subject === hostSubject(SYSTEM, n));
        if (target) throw new TimeoutError(`request to ${subject} timed out`, options.timeoutMs);
        return bus.request(subject, data, options);
      },
    };
    const procClock: Clock = {
      now: () => clock.now(),
      setTimeout: (fn, ms) =>
        clock.setTimeout(() => {
          if (dead) return;
          if (held) held.push(fn);
          else fn();
        }, ms),
      clearTimeout: (h) => clock.clearTimeout(h),
    };
    const lost: DurableHostLockedError[] = [];
    const lock = new HostLock({
      store: async () => store,
      transport,
      system: SYSTEM,
      node,
      leaseMs,
      clock: procClock,
      logger: silentLogger,
      pid: 4242,
      token: () => `${node}-t${++tokens}`,
      onLost: (error) => lost.push(error),
    });
    return {
      node,
      lock,
      lost,
      kill() {
        dead = true;
        for (const sub of [...subs]) sub.unsubscribe(); // the server drops a closed connection's subscriptions
      },
      pause() {
        silent.add(node);
        held = [];
      },
      deafen() {
        silent.add(node);
      },
      resume() {
        silent.delete(node);
        const due = held ?? [];
        held = undefined;
        for (const fn of due) fn();
      },
    };
  }

  async function stored(): Promise<HostLockHolder & { released?: boolean }> {
    const entry = await store.get(HOST_LOCK_KEY);
    return JSON.parse(new TextDecoder().decode(entry!.value));
  }

  return { clock, store, proc, stored };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Lets promises and microtask deliveries run, without moving the clock. */
async function settleIo(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await tick();
}

/** Tracks a promise's outcome for synchronous checks. */
function track<T>(promise: Promise<T>) {
  const state: { done: boolean; error: unknown } = { done: false, error: undefined };
  promise.then(() => (state.done = true), (error: unknown) => ((state.done = true), (state.error = error)));
  return state;
}

/** Moves the manual clock in steps, letting I/O run between them. */
async function advance(clock: ManualClock, ms: number, stepMs = 50): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) {
    clock.advance(Math.min(stepMs, ms - t));
    await settleIo(5);
  }
}

describe('durable host lock', () => {
  it('the first process takes a free lock; a second one is refused with the holder named while the first lives', async () => {
    const w = world();
    const a = w.proc('node-a');
    const b = w.proc('node-b');
    await a.lock.acquire();
    expect(a.lock.held).toBe(true);
    expect(await w.stored()).toMatchObject({ node: 'node-a', leaseMs: LEASE, pid: 4242, heartbeatAt: w.clock.now() });

    const refused = await b.lock.acquire().then(() => undefined, (error: unknown) => error);
    expect(refused).toBeInstanceOf(DurableHostLockedError);
    expect(refused).toMatchObject({ code: 'TROUPE_DURABLE_HOST_LOCKED', holder: 'node-a', heartbeatAt: w.clock.now(), system: SYSTEM });
    expect((refused as Error).message).toMatch(/node node-a \(pid 4242\).*Stop that process first/);
    // The first is untouched: still the holder, still heartbeating, never told it lost.
    await advance(w.clock, LEASE * 2);
    expect(a.lock.held).toBe(true);
    expect(a.lost).toEqual([]);
    expect(await w.stored()).toMatchObject({ node: 'node-a', heartbeatAt: w.clock.now() - ((LEASE * 2) % 1_000) });
  });

  it('a holder that was killed is replaced at once, without waiting for its lease', async () => {
    const w = world();
    const a = w.proc('node-a');
    await a.lock.acquire();
    a.kill();
    const before = w.clock.now();
    const b = w.proc('node-b');
    await b.lock.acquire(); // the manual clock does not move: only "no responders" can let it in
    expect(w.clock.now()).toBe(before);
    expect(b.lock.held).toBe(true);
    expect(await w.stored()).toMatchObject({ node: 'node-b' });
  }, 5_000);

  it('a paused holder loses the lock once its heartbeat is older than its lease, and learns it at its next heartbeat', async () => {
    const w = world();
    const a = w.proc('node-a');
    await a.lock.acquire();
    await advance(w.clock, LEASE / 3 + 10); // one heartbeat
    const lastBeat = (await w.stored()).heartbeatAt;
    a.pause();

    const b = w.proc('node-b');
    const taking = track(b.lock.acquire());
    await advance(w.clock, lastBeat + LEASE - w.clock.now() - 200);
    expect(taking.done).toBe(false); // the heartbeat is not stale yet: it waits
    await advance(w.clock, 400);
    expect(taking).toEqual({ done: true, error: undefined });
    expect(await w.stored()).toMatchObject({ node: 'node-b' });
    expect(a.lost).toEqual([]); // paused: it knows nothing yet

    a.resume(); // its overdue heartbeat runs first
    await settleIo();
    expect(a.lost).toHaveLength(1);
    expect(a.lost[0]).toMatchObject({ holder: 'node-b' });
    expect(a.lock.held).toBe(false);
    await expect(a.lock.acquire()).rejects.toBeInstanceOf(DurableHostLockedError); // for good: restart to host again
    await a.lock.release(); // its release must not erase the new holder
    expect(await w.stored()).toMatchObject({ node: 'node-b' });
    await advance(w.clock, LEASE);
    expect(b.lock.held).toBe(true);
    expect(b.lost).toEqual([]);
  });

  it('a holder that does not answer but keeps heartbeating is alive: the contender is refused once the heartbeat advances', async () => {
    const w = world();
    const a = w.proc('node-a');
    await a.lock.acquire();
    a.deafen(); // overloaded, not paused: its timers still run
    const b = w.proc('node-b');
    const taking = track(b.lock.acquire());
    await advance(w.clock, LEASE / 3 + 100); // a's next heartbeat lands, well before its lease runs out
    expect(taking.done).toBe(true);
    expect(taking.error).toBeInstanceOf(DurableHostLockedError);
    expect(taking.error).toMatchObject({ holder: 'node-a' });
    expect(a.lock.held).toBe(true);
    expect(await w.stored()).toMatchObject({ node: 'node-a' });
  });

  it('a graceful release lets the next process in at once, and writes a marker rather than deleting', async () => {
    const w = world();
    const a = w.proc('node-a');
    await a.lock.acquire();
    await a.lock.release();
    expect(await w.stored()).toMatchObject({ released: true, node: 'node-a' });
    await advance(w.clock, LEASE); // no heartbeat after release
    expect(await w.stored()).toMatchObject({ released: true });
    const b = w.proc('node-b');
    const before = w.clock.now();
    await b.lock.acquire();
    expect(w.clock.now()).toBe(before);
    expect(await w.stored()).toMatchObject({ node: 'node-b' });
  });

  it('a failed heartbeat write is not a loss, nor is a heartbeat the store lost while the key still names this holder', async () => {
    const inner = createMemorySnapshotStore();
    let failPuts = 0;
    const flaky: SnapshotStore = { ...inner, put: async (key, value, rev) => (failPuts-- > 0 ? Promise.reject(new Error('nats: timeout')) : inner.put(key, value, rev)) };
    const w = world(flaky);
    const a = w.proc('node-a');
    await a.lock.acquire();
    failPuts = 2;
    await advance(w.clock, LEASE); // two heartbeats fail, the third succeeds
    expect(a.lost).toEqual([]);
    expect(await w.stored()).toMatchObject({ node: 'node-a', heartbeatAt: w.clock.now() - (LEASE % 1_000) });
    // The same value at a newer revision (a restored server replaying the write): the holder keeps the lock.
    const current = (await inner.get(HOST_LOCK_KEY))!;
    await inner.put(HOST_LOCK_KEY, current.value);
    await advance(w.clock, LEASE);
    expect(a.lost).toEqual([]);
    expect(a.lock.held).toBe(true);
    expect((await w.stored()).heartbeatAt).toBeGreaterThan(JSON.parse(new TextDecoder().decode(current.value)).heartbeatAt);
  });

  it('a shutdown does not wait out a silent holder\'s lease: release ends a waiting acquisition', async () => {
    const w = world();
    const a = w.proc('node-a');
    await a.lock.acquire();
    a.pause();
    const b = w.proc('node-b');
    const taking = track(b.lock.acquire());
    await advance(w.clock, 200);
    expect(taking.done).toBe(false);
    const releasing = b.lock.release();
    await advance(w.clock, 200);
    await releasing;
    expect(taking.error).toBeInstanceOf(SystemStoppedError);
    expect(await w.stored()).toMatchObject({ node: 'node-a' });
  });

  it('two contenders racing for a free lock: exactly one wins, the other is refused', async () => {
    const w = world();
    const [a, b] = [w.proc('node-a'), w.proc('node-b')];
    const results = await Promise.allSettled([a.lock.acquire(), b.lock.acquire()]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const winner = results[0]!.status === 'fulfilled' ? 'node-a' : 'node-b';
    expect(await w.stored()).toMatchObject({ node: winner });
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({ holder: winner });
  });
});

describe('nats.hostLeaseMs', () => {
  it('defaults to 3,000 ms and refuses values out of range, naming the field', async () => {
    expect(resolveHostLeaseMs(undefined)).toBe(3_000);
    expect(resolveHostLeaseMs(1_500)).toBe(1_500);
    for (const bad of [0, 299, 1.5, Number.NaN, '3000', 600_001]) {
      expect(() => resolveHostLeaseMs(bad)).toThrow(InvalidConfigError);
    }
    // Through the public entry, before any connection is tried.
    const opening = createSystem({ name: 'lease', logLevel: 'silent', nats: { servers: 'nats://127.0.0.1:1', hostLeaseMs: 10 } });
    await expect(opening).rejects.toMatchObject({ name: 'InvalidConfigError', field: 'nats.hostLeaseMs' });
  });
});
