/**
 * Every way an XState root actor can fail reaches its supervisor as a typed failure (ActorFailedError with the
 * right `kind`), never as an uncaught exception or unhandled rejection, which would exit Node (issue 2; see
 * "XState v5 facts" in DESIGN.md). XState reports unhandled errors by throwing on a fresh real `setTimeout`,
 * so each test lets real macrotasks run before it checks the process-level spies.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assign, emit, fromCallback, fromPromise, setup, spawnChild, type AnyActorRef } from 'xstate';
import { ActorFailedError, type Directive, type FailureKind } from '../../src/index.js';
import { counterMachine } from '../fixtures/machines.js';
import { lifecycleMachine, noteMachine } from '../fixtures/probes.js';
import { advance, settle, testSystem, type TestSystem } from '../fixtures/system.js';

let uncaught: unknown[] = [];
const onUncaught = (error: unknown) => void uncaught.push(error);

beforeEach(() => {
  uncaught = [];
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
});

afterEach(() => {
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
});

/** Lets queued work run, then real macrotasks: XState's reportUnhandledError throws from a real setTimeout(0). */
async function letEverythingRun(t: TestSystem): Promise<void> {
  await advance(t.clock, 0);
  await new Promise<void>((resolve) => setTimeout(resolve, 20));
  await settle();
}

interface Seen {
  readonly cause: unknown;
  readonly failure: ActorFailedError;
}

/** A supervisor whose decider records what it is shown and answers `directive`. */
function recordingSupervisor(t: TestSystem, directive: Directive = 'restart') {
  const seen: Seen[] = [];
  const sup = t.system.supervisor('s', {
    backoff: { minMs: 0, jitter: 0 },
    intensity: 10,
    decide: (cause, failure) => {
      seen.push({ cause, failure });
      return directive;
    },
  });
  return { sup, seen };
}

function expectTypedFailure(seen: readonly Seen[], address: string, kind: FailureKind, message: RegExp): void {
  expect(seen).toHaveLength(1);
  const { cause, failure } = seen[0]!;
  expect(failure).toBeInstanceOf(ActorFailedError);
  expect(failure.address).toBe(address);
  expect(failure.kind).toBe(kind);
  expect(failure.cause).toBe(cause);
  expect(cause).toBeInstanceOf(Error);
  expect((cause as Error).message).toMatch(message);
  expect(uncaught).toEqual([]);
}

describe('XState failure paths reach the supervisor as typed failures', () => {
  it('a throwing action', async () => {
    await using t = await testSystem();
    const { sup, seen } = recordingSupervisor(t);
    const ref = t.system.spawn(t.system.register('counter', counterMachine), { id: 'a', parent: sup });
    ref.tell({ type: 'inc' });
    const asked = ref.ask({ type: 'crash' }).catch((error: unknown) => error);
    await letEverythingRun(t);

    expectTypedFailure(seen, ref.address, 'actor-error', /^boom$/);
    const answer = await asked;
    expect(answer).toBeInstanceOf(ActorFailedError);
    expect(answer).toMatchObject({ kind: 'actor-error', address: ref.address });
    expect(t.eventsOf('rt.actor.failed')).toMatchObject([{ address: ref.address, kind: 'actor-error', error: { name: 'ActorFailedError', cause: { message: 'boom' } } }]);
    expect(await ref.ask({ type: 'get' })).toBe(0); // restarted by the supervisor
  });

  it('an invoked fromPromise that rejects with no onError', async () => {
    await using t = await testSystem();
    const { sup, seen } = recordingSupervisor(t);
    const machine = setup({
      actors: {
        work: fromPromise(async () => {
          throw new Error('invoke failed');
        }),
      },
    }).createMachine({
      initial: 'idle',
      states: { idle: { on: { go: 'working' } }, working: { invoke: { src: 'work' } } },
    });
    const ref = t.system.spawn(t.system.register('invoker', machine), { id: 'inv', parent: sup });
    ref.tell({ type: 'go' });
    await letEverythingRun(t);

    expectTypedFailure(seen, ref.address, 'actor-error', /invoke failed/);
    expect(ref.getSnapshot()?.value).toBe('idle'); // the new incarnation
  });

  it.each([
    [
      'spawnChild',
      (logic: ReturnType<typeof failingChild>) =>
        setup({ actors: { child: logic } }).createMachine({ on: { go: { actions: spawnChild('child', { id: 'kid' }) } } }),
    ],
    [
      'spawn in assign',
      (logic: ReturnType<typeof failingChild>) =>
        setup({ types: { context: {} as { kid: AnyActorRef | undefined } }, actors: { child: logic } }).createMachine({
          context: { kid: undefined },
          on: { go: { actions: assign({ kid: ({ spawn }) => spawn('child', { id: 'kid' }) }) } },
        }),
    ],
  ])('a child spawned with %s whose failure the machine does not handle', async (_how, build) => {
    await using t = await testSystem();
    const { sup, seen } = recordingSupervisor(t);
    const ref = t.system.spawn(t.system.register('parent', build(failingChild())), { id: 'p', parent: sup });
    ref.tell({ type: 'go' });
    await letEverythingRun(t);

    expectTypedFailure(seen, ref.address, 'actor-error', /child failed/);
  });

  it('a throwing ref.subscribe listener', async () => {
    await using t = await testSystem();
    const { sup, seen } = recordingSupervisor(t);
    const ref = t.system.spawn(t.system.register('counter', counterMachine), { id: 'a', parent: sup });
    let calls = 0;
    ref.subscribe(() => {
      calls++;
      throw new Error('listener broke');
    });
    ref.tell({ type: 'inc' });
    await letEverythingRun(t);

    expectTypedFailure(seen, ref.address, 'listener-error', /listener broke/);
    expect(calls).toBe(1); // removed after it threw, so the new incarnation does not fail again
    ref.tell({ type: 'inc' });
    expect(await ref.ask({ type: 'get' })).toBe(1);
    expect(t.eventsOf('rt.actor.failed')).toHaveLength(1);
  });

  it('two spawned children with the same systemId', async () => {
    await using t = await testSystem();
    const { sup, seen } = recordingSupervisor(t);
    const machine = setup({ actors: { idle: fromPromise(() => new Promise<void>(() => {})) } }).createMachine({
      on: { dup: { actions: [spawnChild('idle', { systemId: 'registry' }), spawnChild('idle', { systemId: 'registry' })] } },
    });
    const ref = t.system.spawn(t.system.register('dup', machine), { id: 'd', parent: sup });
    ref.tell({ type: 'dup' });
    await letEverythingRun(t);

    expectTypedFailure(seen, ref.address, 'actor-error', /system ID 'registry' already exists/);
  });

  it('an error thrown while computing the initial context (a start error), on the first start and on a restart', async () => {
    await using t = await testSystem();
    const { sup, seen } = recordingSupervisor(t, 'restart');
    let starts = 0;
    const machine = setup({ types: { context: {} as { n: number } } }).createMachine({
      context: () => {
        starts++;
        if (starts <= 2) throw new Error(`no context (start ${starts})`);
        return { n: starts };
      },
    });
    const ref = t.system.spawn(t.system.register('fragile', machine), { id: 'f', parent: sup });
    await letEverythingRun(t);

    expect(seen.map((s) => [s.failure.kind, (s.cause as Error).message])).toEqual([
      ['start-error', 'no context (start 1)'],
      ['start-error', 'no context (start 2)'],
    ]);
    expect(uncaught).toEqual([]);
    expect(ref.getSnapshot()).toMatchObject({ status: 'active', context: { n: 3 } });
    expect(t.eventsOf('rt.supervisor.decision').map((e) => e.directive)).toEqual(['restart', 'restart']);
  });

  it('a fromPromise logic actor that rejects at the top level', async () => {
    await using t = await testSystem();
    const { sup, seen } = recordingSupervisor(t, 'stop');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const logic = fromPromise(async () => {
      await gate;
      throw new Error('promise rejected');
    });
    const ref = t.system.spawn(t.system.register('job', logic), { id: 'job', parent: sup });
    const asked = ref.ask({ type: 'status' }).catch((error: unknown) => error);
    await settle();
    release();
    await letEverythingRun(t);

    expectTypedFailure(seen, ref.address, 'actor-error', /promise rejected/);
    expect(await asked).toMatchObject({ name: 'ActorFailedError', kind: 'actor-error' });
  });

  it('a throwing ref.on listener for emitted events', async () => {
    await using t = await testSystem();
    const { sup, seen } = recordingSupervisor(t);
    const ref = t.system.spawn(t.system.register('notes', noteMachine), { id: 'n', parent: sup });
    ref.on('note', () => {
      throw new Error('on listener broke');
    });
    ref.tell({ type: 'ping' });
    await letEverythingRun(t);

    expectTypedFailure(seen, ref.address, 'listener-error', /on listener broke/);
  });
});

describe('a failed incarnation leaves nothing running', () => {
  it('stops the invoked children of the failed incarnation', async () => {
    await using t = await testSystem();
    const log: string[] = [];
    const { sup } = recordingSupervisor(t);
    const ref = t.system.spawn(t.system.register('probe', lifecycleMachine(log)), { id: 'a', parent: sup, input: { name: 'a' } });
    ref.tell({ type: 'crash' });
    await letEverythingRun(t);
    expect(log).toEqual(['start:a', 'stop:a', 'start:a']);
  });

  it('stops the children spawned by the failed incarnation, so their timers do not outlive it', async () => {
    await using t = await testSystem();
    const ticks: number[] = [];
    const ticker = fromCallback(() => {
      const timer = t.clock.setTimeout(function tick() {
        ticks.push(t.clock.now());
      }, 1_000);
      return () => t.clock.clearTimeout(timer);
    });
    const machine = setup({ actors: { ticker }, actions: { explode: () => { throw new Error('boom'); } } }).createMachine({
      on: { start: { actions: spawnChild('ticker') }, crash: { actions: 'explode' } },
    });
    const { sup } = recordingSupervisor(t, 'stop');
    const ref = t.system.spawn(t.system.register('spawner', machine), { id: 'sp', parent: sup });
    ref.tell({ type: 'start' });
    ref.tell({ type: 'crash' });
    await letEverythingRun(t);
    expect(t.clock.pending()).toBe(0);
    await advance(t.clock, 5_000);
    expect(ticks).toEqual([]);
  });
});

describe('emitted events', () => {
  it("a '*' listener sees every emitted event, also those a type-specific listener sees", async () => {
    await using t = await testSystem();
    const machine = setup({ types: { emitted: {} as { type: 'a' } | { type: 'b' } } }).createMachine({
      on: { go: { actions: [emit({ type: 'a' as const }), emit({ type: 'b' as const })] } },
    });
    const ref = t.system.spawn(t.system.register('emitter', machine), { id: 'e' });
    const all: string[] = [];
    const onlyA: string[] = [];
    ref.on('*', (event) => void all.push(event.type));
    ref.on('a', (event) => void onlyA.push(event.type));
    ref.tell({ type: 'go' });
    await settle();
    expect(all).toEqual(['a', 'b']);
    expect(onlyA).toEqual(['a']);
  });
});

/** Promise logic that rejects once the machine spawned it. */
function failingChild() {
  return fromPromise(async () => {
    throw new Error('child failed');
  });
}
