/**
 * Supervision through the public API (issue 2): strategies, restart intensity and escalation, restart types,
 * directives, backoff on the manual clock, and the decision events and log lines.
 */
import { describe, expect, it } from 'vitest';
import {
  ActorFailedError,
  DuplicateActorError,
  InvalidAddressError,
  InvalidChildSpecError,
  InvalidConfigError,
  InvalidMessageError,
  UnknownLogicError,
  createSystem,
  type ActorRef,
  type Directive,
  type PolicyOptions,
} from '../../src/index.js';
import { counterMachine } from '../fixtures/machines.js';
import { finisherMachine, lifecycleMachine, logRuntimeEvents } from '../fixtures/probes.js';
import { advance, settle, testSystem, type TestSystem } from '../fixtures/system.js';

/** Restarts at once (the delay is still a timer on the manual clock: `advance(clock, 0)` fires it). */
const immediate: PolicyOptions = { backoff: { minMs: 0, jitter: 0 } };
/** For the root supervisor too, so escalations are restarted without waiting. */
const fastRoot = { supervision: { backoff: { minMs: 0, jitter: 0 } } };

async function count(ref: ActorRef): Promise<number> {
  return ref.ask<number>({ type: 'get' });
}

function tellTimes(ref: ActorRef, event: { type: string }, times: number): void {
  for (let i = 0; i < times; i++) ref.tell(event);
}

function restartedAddresses(t: TestSystem): string[] {
  return t.eventsOf('rt.actor.restarted').map((e) => e.address);
}

describe('strategies', () => {
  it('one-for-one restarts only the failed child; its sibling keeps its state', async () => {
    await using t = await testSystem();
    const counter = t.system.register('counter', counterMachine);
    const sup = t.system.supervisor('s', { strategy: 'one-for-one', ...immediate });
    const a = t.system.spawn(counter, { id: 'a', parent: sup });
    const b = t.system.spawn(counter, { id: 'b', parent: sup });
    tellTimes(a, { type: 'inc' }, 2);
    tellTimes(b, { type: 'inc' }, 3);
    a.tell({ type: 'crash' });
    await advance(t.clock, 0);

    expect(await count(a)).toBe(0);
    expect(await count(b)).toBe(3);
    expect(restartedAddresses(t)).toEqual([a.address]);
    expect(t.eventsOf('rt.supervisor.decision')).toMatchObject([{ supervisor: sup.address, child: a.address, directive: 'restart', affected: [a.address] }]);
  });

  it('one-for-all restarts every sibling (state reset), ending them right to left and starting them left to right', async () => {
    await using t = await testSystem();
    const log: string[] = [];
    const probe = t.system.register('probe', lifecycleMachine(log));
    t.system.subscribe(logRuntimeEvents(log));
    const sup = t.system.supervisor('s', { strategy: 'one-for-all', ...immediate });
    const [a, b, c] = ['a', 'b', 'c'].map((id) => t.system.spawn(probe, { id, parent: sup, input: { name: id } }));
    for (const ref of [a!, b!, c!]) tellTimes(ref, { type: 'inc' }, 2);
    await settle();
    expect(log).toEqual(['start:a', 'start:b', 'start:c']);

    b!.tell({ type: 'crash' });
    await advance(t.clock, 0);

    const sinceFailure = log.slice(log.indexOf('rt.actor.failed:b'));
    expect(sinceFailure).toEqual([
      'rt.actor.failed:b',
      'stop:c',
      'stop:a',
      'rt.supervisor.decision:b:restart',
      'start:a',
      'rt.actor.restarted:a',
      'start:b',
      'rt.actor.restarted:b',
      'start:c',
      'rt.actor.restarted:c',
    ]);
    expect(await Promise.all([a!, b!, c!].map(count))).toEqual([0, 0, 0]);
    expect(t.eventsOf('rt.supervisor.decision')[0]?.affected).toEqual([a!.address, b!.address, c!.address]);
  });

  it('rest-for-one restarts the failed child and the siblings started after it, not those before', async () => {
    await using t = await testSystem();
    const log: string[] = [];
    const probe = t.system.register('probe', lifecycleMachine(log));
    t.system.subscribe(logRuntimeEvents(log));
    const sup = t.system.supervisor('s', { strategy: 'rest-for-one', ...immediate });
    const [a, b, c] = ['a', 'b', 'c'].map((id) => t.system.spawn(probe, { id, parent: sup, input: { name: id } }));
    for (const ref of [a!, b!, c!]) tellTimes(ref, { type: 'inc' }, 2);
    await settle(); // handled before the crash (messages still queued in a sibling would reach its new incarnation)

    b!.tell({ type: 'crash' });
    await advance(t.clock, 0);

    expect(await Promise.all([a!, b!, c!].map(count))).toEqual([2, 0, 0]);
    expect(restartedAddresses(t)).toEqual([b!.address, c!.address]);
    expect(log).not.toContain('stop:a');
    expect(log.slice(log.indexOf('rt.actor.failed:b'))).toEqual([
      'rt.actor.failed:b',
      'stop:c',
      'rt.supervisor.decision:b:restart',
      'start:b',
      'rt.actor.restarted:b',
      'start:c',
      'rt.actor.restarted:c',
    ]);
  });
});

describe('restart intensity and escalation', () => {
  it('escalates exactly once when the intensity is exceeded; the parent decides and restarts the subtree', async () => {
    await using t = await testSystem(fastRoot);
    const counter = t.system.register('counter', counterMachine);
    const sup = t.system.supervisor('s', { intensity: 1, periodMs: 60_000, ...immediate });
    const x = t.system.spawn(counter, { id: 'x', parent: sup });
    const y = t.system.spawn(counter, { id: 'y', parent: sup });
    tellTimes(x, { type: 'inc' }, 5);
    // Both crash in the same tick: the first restart is allowed, the second exceeds intensity 1.
    x.tell({ type: 'crash' });
    y.tell({ type: 'crash' });
    await settle();

    expect(t.eventsOf('rt.supervisor.failed').map((e) => e.supervisor)).toEqual([sup.address]);
    const decisions = t.eventsOf('rt.supervisor.decision').map((e) => [e.supervisor, e.child, e.directive]);
    expect(decisions).toEqual([
      [sup.address, x.address, 'restart'],
      [sup.address, y.address, 'escalate'],
      [t.system.root.address, sup.address, 'restart'],
    ]);

    await advance(t.clock, 0);
    expect(t.eventsOf('rt.supervisor.failed')).toHaveLength(1);
    expect(await count(x)).toBe(0);
    expect(await count(y)).toBe(0);
    // A new incarnation of the subtree starts with a fresh window: one more crash is a plain restart.
    x.tell({ type: 'crash' });
    await advance(t.clock, 0);
    expect(t.eventsOf('rt.supervisor.failed')).toHaveLength(1);
    expect(t.eventsOf('rt.supervisor.decision').at(-1)).toMatchObject({ supervisor: sup.address, child: x.address, directive: 'restart' });
  });

  it('allows `intensity` restarts within the period and escalates on the next one', async () => {
    await using t = await testSystem(fastRoot);
    const counter = t.system.register('counter', counterMachine);
    const sup = t.system.supervisor('s', { intensity: 3, periodMs: 10_000, ...immediate });
    const a = t.system.spawn(counter, { id: 'a', parent: sup });
    for (let i = 0; i < 3; i++) {
      a.tell({ type: 'crash' });
      await advance(t.clock, 0);
    }
    expect(t.eventsOf('rt.supervisor.failed')).toHaveLength(0);
    expect(t.eventsOf('rt.supervisor.decision').map((e) => e.restartCount)).toEqual([1, 2, 3]);
    a.tell({ type: 'crash' });
    await settle();
    expect(t.eventsOf('rt.supervisor.failed')).toHaveLength(1);
  });

  it('forgets restarts older than the period', async () => {
    await using t = await testSystem(fastRoot);
    const counter = t.system.register('counter', counterMachine);
    const sup = t.system.supervisor('s', { intensity: 2, periodMs: 1_000, ...immediate });
    const a = t.system.spawn(counter, { id: 'a', parent: sup });
    for (let i = 0; i < 6; i++) {
      a.tell({ type: 'crash' });
      await advance(t.clock, 600);
    }
    expect(t.eventsOf('rt.supervisor.failed')).toHaveLength(0);
    expect(t.eventsOf('rt.supervisor.decision').map((e) => e.restartCount)).toEqual([1, 2, 2, 2, 2, 2]);
  });

  it('escalates up a tree of nested supervisors; the first parent that copes restarts the whole subtree', async () => {
    await using t = await testSystem(fastRoot);
    const counter = t.system.register('counter', counterMachine);
    const mid = t.system.supervisor('mid', { intensity: 0, ...immediate });
    const leaf = t.system.supervisor('leaf', { intensity: 0, ...immediate }, { parent: mid });
    const worker = t.system.spawn(counter, { id: 'w', parent: leaf });
    const cousin = t.system.spawn(counter, { id: 'm', parent: mid });
    const outside = t.system.spawn(counter, { id: 'r' });
    for (const ref of [worker, cousin, outside]) tellTimes(ref, { type: 'inc' }, 4);
    await settle();

    worker.tell({ type: 'crash' });
    await settle();
    expect(t.eventsOf('rt.supervisor.failed').map((e) => e.supervisor)).toEqual([leaf.address, mid.address]);
    expect(t.eventsOf('rt.supervisor.decision').map((e) => [e.supervisor, e.child, e.directive])).toEqual([
      [leaf.address, worker.address, 'escalate'],
      [mid.address, leaf.address, 'escalate'],
      [t.system.root.address, mid.address, 'restart'],
    ]);

    await advance(t.clock, 0);
    expect(await count(worker)).toBe(0);
    expect(await count(cousin)).toBe(0); // part of the restarted subtree
    expect(await count(outside)).toBe(4); // a sibling of the subtree, untouched
    expect(restartedAddresses(t)).toEqual([worker.address, cousin.address]);
  });

  it('a child spawned while its supervisor waits for its parent is restarted with the subtree, its first incarnation ended', async () => {
    await using t = await testSystem({ supervision: { backoff: { minMs: 100, jitter: 0 } } });
    const log: string[] = [];
    const probe = t.system.register('probe', lifecycleMachine(log));
    const counter = t.system.register('counter', counterMachine);
    const sup = t.system.supervisor('s', { intensity: 0 });
    const a = t.system.spawn(counter, { id: 'a', parent: sup });
    a.tell({ type: 'crash' });
    await settle(); // s gave up; the root restarts it after 100 ms
    expect(t.eventsOf('rt.supervisor.failed')).toHaveLength(1);

    const late = t.system.spawn(probe, { id: 'late', parent: sup, input: { name: 'late' } });
    await advance(t.clock, 100);
    expect(log).toEqual(['start:late', 'stop:late', 'start:late']); // never two live incarnations
    expect(await late.ask({ type: 'get' })).toBe(0);
    expect(await a.ask({ type: 'get' })).toBe(0);
  });

  it('a root supervisor failure shuts the system down with a report and a fatal log line', async () => {
    await using t = await testSystem({ rootPolicy: { intensity: 0 }, captureLogs: true });
    const counter = t.system.register('counter', counterMachine);
    const c = t.system.spawn(counter, { id: 'c' });
    c.tell({ type: 'crash' });

    const termination = await t.system.terminated;
    expect(termination.reason).toBe('failed');
    if (termination.reason !== 'failed') return;
    const root = t.system.root.address;
    expect(termination.report).toMatchObject({
      name: 'ActorFailedError',
      code: 'TROUPE_ACTOR_FAILED',
      data: { address: root, kind: 'escalated' },
      cause: {
        name: 'SupervisorFailedError',
        data: { supervisor: root, offender: c.address, reason: expect.stringMatching(/restart intensity exceeded/) },
        cause: { name: 'ActorFailedError', data: { address: c.address, kind: 'actor-error' }, cause: { name: 'Error', message: 'boom' } },
      },
    });
    expect(t.eventsOf('rt.system.failed')).toEqual([{ type: 'rt.system.failed', system: t.system.name, report: termination.report, ts: t.clock.now() }]);
    const fatal = t.logs.filter((line) => line['level'] === 60);
    expect(fatal).toEqual([
      { level: 60, time: expect.any(Number), systemId: t.system.name, system: t.system.name, report: termination.report, msg: 'root supervisor failed: shutting the system down' },
    ]);
    expect(t.eventsOf('rt.actor.stopped').map((e) => e.address)).toContain(c.address);
    expect(() => t.system.spawn(counter, { id: 'd' })).toThrow(/stopped/);
  });

  it('a child crashing 1,000 times under one-for-one never disturbs its sibling', async () => {
    await using t = await testSystem();
    const counter = t.system.register('counter', counterMachine);
    const sup = t.system.supervisor('s', { strategy: 'one-for-one', intensity: 100_000, ...immediate });
    const crasher = t.system.spawn(counter, { id: 'crasher', parent: sup });
    const steady = t.system.spawn(counter, { id: 'steady', parent: sup });
    for (let i = 0; i < 1_000; i++) {
      crasher.tell({ type: 'inc' });
      crasher.tell({ type: 'crash' });
      steady.tell({ type: 'inc', n: i });
      await settle(1);
      t.clock.flush();
    }
    await settle();

    expect(t.eventsOf('rt.actor.failed').filter((e) => e.address === crasher.address)).toHaveLength(1_000);
    expect(restartedAddresses(t)).toEqual(Array.from({ length: 1_000 }, () => crasher.address));
    expect(await count(steady)).toBe(1_000);
    expect(await steady.ask<number[]>({ type: 'seen' })).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
    expect(await count(crasher)).toBe(0);
    expect(t.eventsOf('rt.supervisor.failed')).toHaveLength(0);
  });
});

describe('restarts keep messages', () => {
  it('delivers messages queued behind the failed one and sent during the restart, all in order; the failed one is dead-lettered, not redelivered', async () => {
    await using t = await testSystem();
    const counter = t.system.register('counter', counterMachine);
    const sup = t.system.supervisor('s', { backoff: { minMs: 100, jitter: 0 } });
    const a = t.system.spawn(counter, { id: 'a', parent: sup });
    a.tell({ type: 'crash' });
    for (let n = 1; n <= 3; n++) a.tell({ type: 'inc', n }); // already queued when the crash is handled
    await settle();
    for (let n = 4; n <= 50; n++) a.tell({ type: 'inc', n }); // sent while the restart waits for its backoff
    const answer = a.ask<number[]>({ type: 'seen' });
    await advance(t.clock, 100);

    expect(await answer).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(t.eventsOf('rt.actor.failed')).toHaveLength(1);
    expect(t.eventsOf('rt.actor.restarted')).toMatchObject([{ address: a.address, incarnation: 1, redelivered: 51 }]);
    expect(t.system.deadLetters.count('handler-failed')).toBe(1);
    expect(t.system.deadLetters.recent()).toMatchObject([{ to: a.address, eventType: 'crash', reason: 'handler-failed' }]);
  });

  it('holds at most the mailbox capacity during a restart and reports the overflow as dropped', async () => {
    await using t = await testSystem();
    const counter = t.system.register('counter', counterMachine);
    const sup = t.system.supervisor('s', { backoff: { minMs: 100, jitter: 0 } });
    const a = t.system.spawn(counter, { id: 'a', parent: sup, mailboxCapacity: 5 });
    a.tell({ type: 'crash' });
    await settle();
    for (let n = 1; n <= 8; n++) a.tell({ type: 'inc', n });
    await advance(t.clock, 100);

    expect(await a.ask<number[]>({ type: 'seen' })).toEqual([1, 2, 3, 4, 5]);
    expect(t.system.deadLetters.count('mailbox-full')).toBe(3);
  });

  it('restart resets the state', async () => {
    await using t = await testSystem();
    const counter = t.system.register('counter', counterMachine);
    const a = t.system.spawn(counter, { id: 'a', parent: t.system.supervisor('s', immediate) });
    tellTimes(a, { type: 'inc' }, 3);
    a.tell({ type: 'crash' });
    await advance(t.clock, 0);
    expect(await count(a)).toBe(0);
    expect(t.eventsOf('rt.actor.restarted')).toMatchObject([{ mode: 'initial' }]);
  });

  it('resume keeps the state of the last handled message', async () => {
    await using t = await testSystem();
    const counter = t.system.register('counter', counterMachine);
    const a = t.system.spawn(counter, { id: 'a', parent: t.system.supervisor('s', { ...immediate, decide: () => 'resume' }) });
    tellTimes(a, { type: 'inc' }, 3);
    a.tell({ type: 'crash' });
    a.tell({ type: 'inc' });
    await advance(t.clock, 0);
    expect(await count(a)).toBe(4);
    expect(t.eventsOf('rt.actor.restarted')).toMatchObject([{ mode: 'last-good' }]);
    expect(t.eventsOf('rt.supervisor.decision')).toMatchObject([{ directive: 'resume' }]);
  });
});

describe('backoff', () => {
  it('waits the configured, growing delay before each restart (and not a tick less)', async () => {
    await using t = await testSystem();
    const counter = t.system.register('counter', counterMachine);
    const sup = t.system.supervisor('s', { intensity: 10, periodMs: 60_000, backoff: { minMs: 100, maxMs: 1_000, factor: 2, jitter: 0 } });
    const a = t.system.spawn(counter, { id: 'a', parent: sup });
    const expected = [100, 200, 400, 800, 1_000, 1_000];
    for (const [i, delay] of expected.entries()) {
      a.tell({ type: 'crash' });
      await settle();
      expect(t.eventsOf('rt.supervisor.decision').at(-1)?.delayMs).toBe(delay);
      await advance(t.clock, delay - 1);
      expect(t.eventsOf('rt.actor.restarted')).toHaveLength(i);
      await advance(t.clock, 1);
      expect(t.eventsOf('rt.actor.restarted')).toHaveLength(i + 1);
    }
    expect(t.eventsOf('rt.supervisor.decision').map((e) => e.delayMs)).toEqual(expected);
  });

  it('applies jitter through the injected random source', async () => {
    await using t = await testSystem();
    const counter = t.system.register('counter', counterMachine);
    const random = [0, 0.999_999, 0.5];
    const sup = t.system.supervisor('s', { intensity: 10, backoff: { minMs: 1_000, maxMs: 1_000, jitter: 0.5 }, random: () => random.shift() ?? 0.5 });
    const a = t.system.spawn(counter, { id: 'a', parent: sup });
    for (let i = 0; i < 3; i++) {
      a.tell({ type: 'crash' });
      await advance(t.clock, 1_500);
    }
    expect(t.eventsOf('rt.supervisor.decision').map((e) => e.delayMs)).toEqual([500, 1_500, 1_000]);
  });

  it('takes the system-wide backoff defaults from the config', async () => {
    await using t = await testSystem({ supervision: { backoff: { minMs: 250, jitter: 0 } } });
    const counter = t.system.register('counter', counterMachine);
    const a = t.system.spawn(counter, { id: 'a' });
    a.tell({ type: 'crash' });
    await settle();
    expect(t.eventsOf('rt.supervisor.decision')).toMatchObject([{ delayMs: 250 }]);
  });
});

describe('restart types', () => {
  it('never restarts a temporary child', async () => {
    await using t = await testSystem();
    const counter = t.system.register('counter', counterMachine);
    const sup = t.system.supervisor('s', immediate);
    const temp = t.system.spawn(counter, { id: 'temp', parent: sup, restart: 'temporary' });
    temp.tell({ type: 'crash' });
    await advance(t.clock, 60_000);

    expect(t.eventsOf('rt.supervisor.decision')).toMatchObject([{ child: temp.address, directive: 'stop' }]);
    expect(t.eventsOf('rt.actor.restarted')).toHaveLength(0);
    expect(sup.children()).toEqual([]);
    expect(temp.getSnapshot()).toBeUndefined();
    temp.tell({ type: 'inc' });
    expect(t.system.deadLetters.recent().at(-1)).toMatchObject({ to: temp.address, eventType: 'inc', reason: 'no actor at this address' });
  });

  it('does not restart a transient child that completes', async () => {
    await using t = await testSystem();
    const finisher = t.system.register('finisher', finisherMachine);
    const sup = t.system.supervisor('s', immediate);
    const job = t.system.spawn(finisher, { id: 'job', parent: sup });
    expect(await job.ask({ type: 'finish' })).toBe(0); // an ask answered by the output
    await advance(t.clock, 60_000);

    expect(t.eventsOf('rt.supervisor.decision')).toHaveLength(0);
    expect(t.eventsOf('rt.actor.restarted')).toHaveLength(0);
    expect(t.eventsOf('rt.actor.stopped').map((e) => e.address)).toEqual([job.address]);
    expect(sup.children()).toEqual([]);
    await expect(job.ask({ type: 'get' })).rejects.toMatchObject({ name: 'DeadLetterError' });
  });

  it('restarts a permanent child that completes', async () => {
    await using t = await testSystem();
    const finisher = t.system.register('finisher', finisherMachine);
    const sup = t.system.supervisor('s', immediate);
    const job = t.system.spawn(finisher, { id: 'job', parent: sup, restart: 'permanent' });
    job.tell({ type: 'inc' });
    job.tell({ type: 'finish' });
    await advance(t.clock, 0);

    expect(t.eventsOf('rt.supervisor.decision')).toMatchObject([{ child: job.address, directive: 'restart' }]);
    expect(restartedAddresses(t)).toEqual([job.address]);
    expect(sup.children()).toEqual([job.address]);
    expect(await count(job)).toBe(0);
    expect(job.getSnapshot()?.status).toBe('active');
  });

  it.each(['permanent', 'transient', 'temporary'] as const)('never restarts a %s child stopped explicitly', async (restart) => {
    await using t = await testSystem();
    const counter = t.system.register('counter', counterMachine);
    const sup = t.system.supervisor('s', immediate);
    const a = t.system.spawn(counter, { id: 'a', parent: sup, restart });
    const pending = a.ask({ type: 'inc' }).catch((error: unknown) => error); // never answered: the stop rejects it
    await settle();
    await a.stop();
    await advance(t.clock, 60_000);

    expect(await pending).toMatchObject({ name: 'DeadLetterError', reason: 'actor stopped before answering' });
    expect(t.eventsOf('rt.supervisor.decision')).toHaveLength(0);
    expect(t.eventsOf('rt.actor.restarted')).toHaveLength(0);
    expect(t.eventsOf('rt.actor.stopped')).toMatchObject([{ address: a.address, reason: 'stopped' }]);
    expect(sup.children()).toEqual([]);
    a.tell({ type: 'inc' });
    expect(t.system.deadLetters.recent().at(-1)).toMatchObject({ to: a.address, reason: 'no actor at this address' });
  });

  it('an explicitly stopped supervisor takes its children with it, right to left, and is not restarted', async () => {
    await using t = await testSystem();
    const counter = t.system.register('counter', counterMachine);
    const sup = t.system.supervisor('s', immediate);
    const refs = ['a', 'b', 'c'].map((id) => t.system.spawn(counter, { id, parent: sup }));
    await sup.stop();
    await advance(t.clock, 60_000);
    expect(t.eventsOf('rt.actor.stopped').map((e) => e.address)).toEqual([...refs.map((r) => r.address).reverse(), sup.address]);
    expect(t.eventsOf('rt.supervisor.decision')).toHaveLength(0);
    expect(t.system.root.children()).toEqual([]);
  });
});

describe('decider', () => {
  it('gets the thrown error and the typed failure', async () => {
    await using t = await testSystem();
    const counter = t.system.register('counter', counterMachine);
    const seen: [unknown, ActorFailedError][] = [];
    const sup = t.system.supervisor('s', { ...immediate, decide: (cause, failure) => void seen.push([cause, failure]) });
    const a = t.system.spawn(counter, { id: 'a', parent: sup });
    a.tell({ type: 'crash' });
    await advance(t.clock, 0);
    expect(seen).toHaveLength(1);
    const [cause, failure] = seen[0]!;
    expect(cause).toBeInstanceOf(Error);
    expect((cause as Error).message).toBe('boom');
    expect(failure).toBeInstanceOf(ActorFailedError);
    expect(failure).toMatchObject({ address: a.address, kind: 'actor-error' });
    expect(t.eventsOf('rt.supervisor.decision')).toMatchObject([{ directive: 'restart' }]); // undefined means restart
  });

  it("'stop' stops the child for good and leaves its siblings alone", async () => {
    await using t = await testSystem();
    const counter = t.system.register('counter', counterMachine);
    const sup = t.system.supervisor('s', { ...immediate, strategy: 'one-for-all', decide: () => 'stop' });
    const a = t.system.spawn(counter, { id: 'a', parent: sup });
    const b = t.system.spawn(counter, { id: 'b', parent: sup });
    tellTimes(b, { type: 'inc' }, 2);
    a.tell({ type: 'crash' });
    await advance(t.clock, 0);
    expect(t.eventsOf('rt.supervisor.decision')).toMatchObject([{ child: a.address, directive: 'stop', affected: [a.address] }]);
    expect(sup.children()).toEqual([b.address]);
    expect(a.getSnapshot()).toBeUndefined();
    expect(await count(b)).toBe(2);
    expect(t.eventsOf('rt.actor.restarted')).toHaveLength(0);
  });

  it("'escalate' fails the supervisor once and its parent decides", async () => {
    await using t = await testSystem(fastRoot);
    const counter = t.system.register('counter', counterMachine);
    const sup = t.system.supervisor('s', { ...immediate, decide: () => 'escalate' });
    const a = t.system.spawn(counter, { id: 'a', parent: sup });
    tellTimes(a, { type: 'inc' }, 2);
    a.tell({ type: 'crash' });
    await advance(t.clock, 0);
    expect(t.eventsOf('rt.supervisor.failed').map((e) => e.supervisor)).toEqual([sup.address]);
    expect(t.eventsOf('rt.supervisor.decision').map((e) => [e.supervisor, e.directive])).toEqual([
      [sup.address, 'escalate'],
      [t.system.root.address, 'restart'],
    ]);
    expect(await count(a)).toBe(0);
  });

  it("'resume' keeps the state even under one-for-all, and touches no sibling", async () => {
    await using t = await testSystem();
    const counter = t.system.register('counter', counterMachine);
    const sup = t.system.supervisor('s', { ...immediate, strategy: 'one-for-all', decide: () => 'resume' });
    const a = t.system.spawn(counter, { id: 'a', parent: sup });
    const b = t.system.spawn(counter, { id: 'b', parent: sup });
    tellTimes(a, { type: 'inc' }, 2);
    tellTimes(b, { type: 'inc' }, 3);
    a.tell({ type: 'crash' });
    await advance(t.clock, 0);
    expect(await count(a)).toBe(2);
    expect(await count(b)).toBe(3);
    expect(restartedAddresses(t)).toEqual([a.address]);
  });

  it.each([
    ['throws', () => {
      throw new Error('decider bug');
    }],
    ['returns something that is not a directive', () => 'retry' as Directive],
  ])('escalates (never guesses) when the decider %s', async (_what, decide) => {
    await using t = await testSystem(fastRoot);
    const counter = t.system.register('counter', counterMachine);
    const sup = t.system.supervisor('s', { ...immediate, decide });
    const a = t.system.spawn(counter, { id: 'a', parent: sup });
    a.tell({ type: 'crash' });
    await settle();
    expect(t.eventsOf('rt.supervisor.decision')[0]).toMatchObject({ supervisor: sup.address, directive: 'escalate' });
    expect(t.eventsOf('rt.supervisor.failed')).toHaveLength(1);
  });
});

describe('decisions are events and structured log lines', () => {
  it('publishes each decision with supervisor, child, reason, directive, restartCount, affected and delay', async () => {
    await using t = await testSystem();
    const counter = t.system.register('counter', counterMachine);
    const sup = t.system.supervisor('s', { backoff: { minMs: 50, jitter: 0 } });
    const a = t.system.spawn(counter, { id: 'a', parent: sup });
    a.tell({ type: 'crash' });
    await settle();
    expect(t.eventsOf('rt.supervisor.decision')).toEqual([
      {
        type: 'rt.supervisor.decision',
        supervisor: sup.address,
        child: a.address,
        reason: { _tag: 'TroupeError', name: 'Error', code: 'ERROR', message: 'boom' },
        directive: 'restart',
        restartCount: 1,
        affected: [a.address],
        delayMs: 50,
        ts: t.clock.now(),
      },
    ]);
  });

  it('logs each decision with the fixed fields (warn for restart/stop, error for escalate)', async () => {
    const raw: string[] = [];
    await using t = await testSystem({ captureLogs: true, ...fastRoot, logDestination: { write: (line: string) => void raw.push(line) } });
    const counter = t.system.register('counter', counterMachine);
    const sup = t.system.supervisor('s', { intensity: 1, ...immediate });
    const a = t.system.spawn(counter, { id: 'a', parent: sup });
    a.tell({ type: 'crash' });
    await advance(t.clock, 0);
    a.tell({ type: 'crash' });
    await settle();

    const records = raw.map((line) => JSON.parse(line) as Record<string, unknown>);
    const decisions = records.filter((line) => line['msg'] === 'supervisor decision');
    const base = { time: expect.any(Number), systemId: t.system.name, msg: 'supervisor decision', reason: 'boom' };
    expect(decisions).toEqual([
      { ...base, level: 40, supervisor: sup.address, child: a.address, directive: 'restart', restartCount: 1, delayMs: 0 },
      { ...base, level: 50, supervisor: sup.address, child: a.address, directive: 'escalate', restartCount: 2, delayMs: 0 },
      {
        ...base,
        level: 40,
        supervisor: t.system.root.address,
        child: sup.address,
        directive: 'restart',
        restartCount: 1,
        delayMs: 0,
        reason: expect.stringMatching(/supervisor .* failed: restart intensity exceeded/),
      },
    ]);
    expect(t.eventsOf('rt.supervisor.decision')).toHaveLength(decisions.length);
    // One key per field: JSON.parse keeps the last of duplicate keys, but strict log consumers reject them.
    const supervisorLines = raw.filter((line) => line.includes('"supervisor":'));
    expect(supervisorLines.length).toBeGreaterThanOrEqual(4); // three decisions and the 'supervisor gave up' line
    for (const line of supervisorLines) expect(line.split('"supervisor":').length - 1, line).toBe(1);
  });
});

describe('validation names the field', () => {
  it.each(['a/b', 'a.b', '', 'sp ace', 'x'.repeat(129)])('rejects the actor id %j with InvalidAddressError', async (id) => {
    await using t = await testSystem();
    const counter = t.system.register('counter', counterMachine);
    expect(() => t.system.spawn(counter, { id })).toThrow(InvalidAddressError);
    expect(() => t.system.spawn(counter, { id })).toThrow(/id segment/);
    expect(() => t.system.supervisor(id)).toThrow(InvalidAddressError);
    expect(() => t.system.register(id, counterMachine)).toThrow(InvalidAddressError);
  });

  it.each([
    [{ restart: 'sometimes' }, 'restart'],
    [{ shutdownMs: -1 }, 'shutdownMs'],
    [{ shutdownMs: Number.NaN }, 'shutdownMs'],
    [{ mailboxCapacity: 0 }, 'mailboxCapacity'],
    [{ mailboxCapacity: 2.5 }, 'mailboxCapacity'],
    [{ parent: 'nowhere/sup' }, 'parent'],
  ])('rejects the child spec %o with InvalidChildSpecError naming %s', async (override, field) => {
    await using t = await testSystem();
    const counter = t.system.register('counter', counterMachine);
    const spawn = () => t.system.spawn(counter, { id: 'a', ...(override as object) });
    expect(spawn).toThrow(InvalidChildSpecError);
    try {
      spawn();
    } catch (error) {
      expect((error as InvalidChildSpecError).field).toBe(field);
      expect((error as Error).message).toContain(field);
    }
    expect(t.system.root.children()).toEqual([]);
  });

  it('rejects spawn without options, an unknown logic, a duplicate id and non-plain input', async () => {
    await using t = await testSystem();
    const counter = t.system.register('counter', counterMachine);
    expect(() => t.system.spawn(counter, undefined as never)).toThrow(expect.objectContaining({ name: 'InvalidChildSpecError', field: 'options' }));
    expect(() => t.system.spawn('nope', { id: 'a' })).toThrow(UnknownLogicError);
    t.system.spawn(counter, { id: 'a' });
    expect(() => t.system.spawn(counter, { id: 'a' })).toThrow(DuplicateActorError);
    expect(() => t.system.supervisor('a')).toThrow(DuplicateActorError);
    expect(() => t.system.spawn(counter, { id: 'b', input: { f: () => 1 } })).toThrow(InvalidMessageError);
  });

  it.each([
    [{ strategy: 'one-for-some' }, 'strategy'],
    [{ intensity: -1 }, 'intensity'],
    [{ intensity: 1.5 }, 'intensity'],
    [{ periodMs: 0 }, 'periodMs'],
    [{ backoff: { minMs: -5 } }, 'backoff.minMs'],
    [{ backoff: { minMs: 500, maxMs: 100 } }, 'backoff.maxMs'],
    [{ backoff: { factor: 0.5 } }, 'backoff.factor'],
    [{ backoff: { jitter: 2 } }, 'backoff.jitter'],
    [{ decide: 'restart' }, 'decide'],
    [{ random: 4 }, 'random'],
  ])('rejects the policy %o with InvalidConfigError naming %s', async (policy, field) => {
    await using t = await testSystem();
    let error: unknown;
    try {
      t.system.supervisor('s', policy as PolicyOptions);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as InvalidConfigError).field).toBe(`supervisor(${t.system.name}/s).policy.${field}`);
    expect(t.system.root.children()).toEqual([]);
  });

  it.each([
    [{ mailboxCapacity: 0 }, 'mailboxCapacity'],
    [{ askTimeoutMs: -1 }, 'askTimeoutMs'],
    [{ messageCheck: 'sometimes' }, 'messageCheck'],
    [{ supervision: { intensity: -1 } }, 'supervision.intensity'],
    [{ supervision: { periodMs: 0 } }, 'supervision.periodMs'],
    [{ supervision: { backoff: { factor: 0 } } }, 'supervision.backoff.factor'],
    [{ rootPolicy: { strategy: 'all-for-none' } }, 'rootPolicy.strategy'],
  ])('rejects the system config %o with InvalidConfigError naming %s', async (override, field) => {
    const create = createSystem({ name: 'cfg', logLevel: 'silent', ...(override as object) });
    await expect(create).rejects.toBeInstanceOf(InvalidConfigError);
    await expect(create).rejects.toMatchObject({ field });
  });

  it('rejects a bad system name with InvalidAddressError', async () => {
    for (const name of ['a/b', 'a.b', '']) await expect(createSystem({ name })).rejects.toBeInstanceOf(InvalidAddressError);
  });
});
