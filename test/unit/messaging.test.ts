/**
 * Messaging through the public API (issue 2): tell and ask, timeouts on the manual clock, dead letters, the
 * plain-data check at the sender, bounded mailboxes, replies (immediate, deferred, promise output) and the
 * emitted-event helpers by which machines message other actors.
 */
import { describe, expect, it } from 'vitest';
import { assign, fromPromise, setup } from 'xstate';
import { askTo, reply, tellTo, type AskAnswer } from '../../machines/emit.js';
import { DeadLetterError, InvalidAddressError, InvalidMessageError, MailboxFullError, TimeoutError, type ActorRef } from '../../src/index.js';
import { counterMachine } from '../fixtures/machines.js';
import { deferred, deferredReplyMachine } from '../fixtures/probes.js';
import { advance, settle, testSystem } from '../fixtures/system.js';

/** Tracks whether a promise has settled yet, without letting a rejection go unhandled. */
function track<T>(promise: Promise<T>): { settled: () => boolean; outcome: Promise<{ value?: T; error?: unknown }> } {
  let done = false;
  const outcome = promise.then(
    (value) => ((done = true), { value }),
    (error: unknown) => ((done = true), { error }),
  );
  return { settled: () => done, outcome };
}

/** Keeps the payload of the last `keep` in its context. */
const keeperMachine = setup({
  types: { context: {} as { last: unknown }, events: {} as { type: 'keep'; payload: unknown } },
}).createMachine({
  context: { last: undefined },
  on: { keep: { actions: assign({ last: ({ event }) => event.payload }) } },
});

describe('ask', () => {
  it('times out with TimeoutError when no answer comes, on the injected clock', async () => {
    await using t = await testSystem();
    const ref = t.system.spawn(t.system.register('counter', counterMachine), { id: 'c' });
    const asked = track(ref.ask({ type: 'inc' }, { timeoutMs: 1_000 })); // 'inc' is handled but never answered
    await advance(t.clock, 999);
    expect(asked.settled()).toBe(false);
    await advance(t.clock, 1);
    const { error } = await asked.outcome;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ timeoutMs: 1_000, code: 'TROUPE_TIMEOUT' });
    expect((error as Error).message).toContain(ref.address);
  });

  it('uses the system askTimeoutMs by default', async () => {
    await using t = await testSystem({ askTimeoutMs: 300 });
    const ref = t.system.spawn(t.system.register('counter', counterMachine), { id: 'c' });
    const asked = track(ref.ask({ type: 'inc' }));
    await advance(t.clock, 299);
    expect(asked.settled()).toBe(false);
    await advance(t.clock, 1);
    expect((await asked.outcome).error).toMatchObject({ name: 'TimeoutError', timeoutMs: 300 });
  });

  it('clears its timeout timer once answered', async () => {
    await using t = await testSystem();
    const ref = t.system.spawn(t.system.register('counter', counterMachine), { id: 'c' });
    expect(await ref.ask({ type: 'get' }, { timeoutMs: 10_000 })).toBe(0);
    expect(t.clock.pending()).toBe(0);
  });

  it('to an unknown address rejects at once with DeadLetterError and records a dead letter', async () => {
    await using t = await testSystem();
    const nobody = t.system.lookup(`${t.system.name}/nobody`);
    const asked = track(nobody.ask({ type: 'get' }));
    await settle(); // no clock movement: only a fast failure can settle it
    expect(asked.settled()).toBe(true);
    const { error } = await asked.outcome;
    expect(error).toBeInstanceOf(DeadLetterError);
    expect(error).toMatchObject({ to: nobody.address, reason: 'no actor at this address' });
    expect(t.system.deadLetters.count()).toBe(1);
    expect(t.system.deadLetters.count('no actor at this address')).toBe(1);
    expect(t.clock.pending()).toBe(0); // the timeout timer was cleared too
  });

  it('of fromPromise logic resolves with its output', async () => {
    await using t = await testSystem();
    const gate = deferred<void>();
    const logic = fromPromise<number, { n: number }>(async ({ input }) => {
      await gate.promise;
      return input.n * 2;
    });
    const double = t.system.register('double', logic);
    const ref = t.system.spawn(double, { id: 'd', input: { n: 21 } });
    const asked = track(ref.ask({ type: 'result' }));
    await settle();
    expect(asked.settled()).toBe(false);
    gate.resolve();
    expect((await asked.outcome).value).toBe(42);
  });

  it('is answered by a deferred reply, emitted after an invoked promise resolves', async () => {
    await using t = await testSystem();
    const work = deferred<number>();
    const ref = t.system.spawn(t.system.register('fetcher', deferredReplyMachine(() => work.promise)), { id: 'f' });
    const asked = track(ref.ask<{ value: number }>({ type: 'fetch' }));
    await settle();
    expect(asked.settled()).toBe(false);
    expect(ref.getSnapshot()?.value).toBe('fetching');
    work.resolve(7);
    expect((await asked.outcome).value).toEqual({ value: 7 });
    expect(ref.getSnapshot()?.value).toBe('idle');
  });

  it('rejects with InvalidMessageError when the reply is not plain data; the actor keeps running', async () => {
    await using t = await testSystem();
    const machine = setup({ types: { context: {} as { n: number }, events: {} as { type: 'bad' } | { type: 'good' } } }).createMachine({
      context: { n: 0 },
      on: {
        bad: { actions: [assign({ n: ({ context }) => context.n + 1 }), reply(() => ({ at: new Map([['a', 1]]) }))] },
        good: { actions: reply(({ context }) => context.n) },
      },
    });
    const ref = t.system.spawn(t.system.register('replier', machine), { id: 'r' });
    await expect(ref.ask({ type: 'bad' })).rejects.toMatchObject({ name: 'InvalidMessageError', path: '$.at' });
    expect(await ref.ask({ type: 'good' })).toBe(1);
    expect(t.eventsOf('rt.actor.failed')).toHaveLength(0);
  });

  it('answers deferred replies to several waiting asks in order', async () => {
    await using t = await testSystem();
    const works = [deferred<number>(), deferred<number>()];
    let call = 0;
    const ref = t.system.spawn(t.system.register('fetcher', deferredReplyMachine(() => works[call++]!.promise)), { id: 'f' });
    const first = ref.ask<{ value: number }>({ type: 'fetch' });
    await settle();
    works[0]!.resolve(1);
    expect(await first).toEqual({ value: 1 });
    const second = ref.ask<{ value: number }>({ type: 'fetch' });
    await settle();
    works[1]!.resolve(2);
    expect(await second).toEqual({ value: 2 });
  });
});

describe('dead letters', () => {
  it('a tell to an unknown address is counted and published as rt.deadLetter', async () => {
    await using t = await testSystem();
    t.system.lookup(`${t.system.name}/ghost`).tell({ type: 'boo' });
    t.system.lookup(`${t.system.name}/ghost`).tell({ type: 'boo' });
    expect(t.system.deadLetters.count()).toBe(2);
    expect(t.eventsOf('rt.deadLetter')).toEqual([
      { type: 'rt.deadLetter', to: `${t.system.name}/ghost`, from: '', eventType: 'boo', reason: 'no actor at this address', ts: t.clock.now(), count: 1 },
      { type: 'rt.deadLetter', to: `${t.system.name}/ghost`, from: '', eventType: 'boo', reason: 'no actor at this address', ts: t.clock.now(), count: 2 },
    ]);
    expect(t.system.deadLetters.recent()).toHaveLength(2);
  });

  it('logs dead letters at most once per window, counting the ones it left out', async () => {
    await using t = await testSystem({ captureLogs: true, deadLetterLogWindowMs: 1_000 });
    const ghost = t.system.lookup(`${t.system.name}/ghost`);
    for (let i = 0; i < 10; i++) ghost.tell({ type: 'boo' });
    await advance(t.clock, 1_000);
    ghost.tell({ type: 'boo' });
    const lines = t.logs.filter((line) => line['msg'] === 'dead letter');
    expect(lines).toEqual([
      { level: 40, time: expect.any(Number), systemId: t.system.name, to: ghost.address, eventType: 'boo', reason: 'no actor at this address', suppressed: 0, msg: 'dead letter' },
      { level: 40, time: expect.any(Number), systemId: t.system.name, to: ghost.address, eventType: 'boo', reason: 'no actor at this address', suppressed: 9, msg: 'dead letter' },
    ]);
    expect(t.system.deadLetters.count()).toBe(11);
  });

  it('a message to a supervisor is dead-lettered: supervisors accept no messages', async () => {
    await using t = await testSystem();
    const sup = t.system.supervisor('s');
    await expect(t.system.lookup(sup.address).ask({ type: 'hello' })).rejects.toMatchObject({ name: 'DeadLetterError', reason: 'supervisors accept no messages' });
  });

  it('events the machine never handles are dead-lettered with the reason, and the machine is untouched', async () => {
    await using t = await testSystem();
    const ref: ActorRef = t.system.spawn(t.system.register('counter', counterMachine), { id: 'c' });
    ref.tell({ type: 'inc' });
    ref.tell({ type: 'dance' });
    await expect(ref.ask({ type: 'sing' })).rejects.toMatchObject({ name: 'DeadLetterError', reason: 'unhandled event type sing' });
    expect(t.system.deadLetters.recent()).toMatchObject([
      { to: ref.address, eventType: 'dance', reason: 'unhandled event type dance' },
      { to: ref.address, eventType: 'sing', reason: 'unhandled event type sing' },
    ]);
    expect(await ref.ask({ type: 'get' })).toBe(1);
    expect(t.eventsOf('rt.actor.failed')).toHaveLength(0);
  });

  it('rejects lookups of malformed addresses', async () => {
    await using t = await testSystem();
    for (const address of ['', 'a//b', 'a/b.c', 'a/b c']) expect(() => t.system.lookup(address)).toThrow(InvalidAddressError);
  });
});

describe.each(['plain', 'roundtrip'] as const)('the plain-data check at the sender (messageCheck %s)', (messageCheck) => {
  class Money {
    constructor(readonly cents: number) {}
  }
  const cyclic: Record<string, unknown> = { type: 'keep' };
  cyclic['payload'] = { back: cyclic };

  it.each([
    ['a function', { type: 'keep', payload: () => 1 }, '$.payload'],
    ['a class instance', { type: 'keep', payload: new Money(5) }, '$.payload'],
    ['a Map', { type: 'keep', payload: new Map([['a', 1]]) }, '$.payload'],
    ['a symbol value', { type: 'keep', payload: Symbol('s') }, '$.payload'],
    ['a symbol key', { type: 'keep', payload: { [Symbol('k')]: 1 } }, '$.payload'],
    ['a cycle', cyclic, '$.payload.back'],
    ['a function nested in an array', { type: 'keep', payload: [1, [2, { f: () => 3 }]] }, '$.payload[1][1].f'],
    ['a missing type', { payload: 1 }, '$.type'],
  ])('rejects %s at tell and ask with InvalidMessageError, delivering nothing', async (_what, event, path) => {
    await using t = await testSystem({ messageCheck });
    const ref: ActorRef = t.system.spawn(t.system.register('keeper', keeperMachine), { id: 'k' });
    expect(() => ref.tell(event as never)).toThrow(InvalidMessageError);
    try {
      ref.tell(event as never);
    } catch (error) {
      expect((error as InvalidMessageError).path).toBe(path);
    }
    await expect(ref.ask(event as never)).rejects.toBeInstanceOf(InvalidMessageError);
    await settle();
    expect(ref.getSnapshot()?.context).toEqual({ last: undefined });
    expect(t.system.deadLetters.count()).toBe(0);
  });

  it('passes plain data, Dates, byte arrays, null and nested arrays through intact', async () => {
    await using t = await testSystem({ messageCheck });
    const ref: ActorRef = t.system.spawn(t.system.register('keeper', keeperMachine), { id: 'k' });
    const payload = { at: new Date(1_700_000_000_000), bytes: new Uint8Array([1, 2, 3]), none: null, nested: [[1, [2, [3]]], []], text: 'ok', n: 1.5 };
    ref.tell({ type: 'keep', payload });
    await settle();
    const last = (ref.getSnapshot()?.context as { last: typeof payload }).last;
    expect(last.at).toBeInstanceOf(Date);
    expect(last.at.getTime()).toBe(1_700_000_000_000);
    expect(last.bytes).toBeInstanceOf(Uint8Array);
    expect([...last.bytes]).toEqual([1, 2, 3]);
    expect(last.none).toBeNull();
    expect(last.nested).toEqual([[1, [2, [3]]], []]);
    expect(last.text).toBe('ok');
    expect(last.n).toBe(1.5);
  });
});

describe('bounded mailbox', () => {
  it('rejects the newest message with MailboxFullError once full, and counts it', async () => {
    await using t = await testSystem();
    const ref = t.system.spawn(t.system.register('counter', counterMachine), { id: 'c', mailboxCapacity: 3 });
    // All synchronous: nothing is handled before the mailbox fills.
    ref.tell({ type: 'inc' });
    ref.tell({ type: 'inc' });
    ref.tell({ type: 'inc' });
    const rejected = ref.ask({ type: 'get' });
    ref.tell({ type: 'inc' });

    const error = await rejected.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MailboxFullError);
    expect(error).toMatchObject({ to: ref.address, capacity: 3 });
    expect(t.system.deadLetters.count('mailbox-full')).toBe(2);
    expect(t.eventsOf('rt.deadLetter').map((e) => [e.eventType, e.reason])).toEqual([
      ['get', 'mailbox-full'],
      ['inc', 'mailbox-full'],
    ]);
    expect(await ref.ask({ type: 'get' })).toBe(3); // the three accepted were all handled
  });

  it('takes its capacity from the config by default', async () => {
    await using t = await testSystem({ mailboxCapacity: 2 });
    const ref = t.system.spawn(t.system.register('counter', counterMachine), { id: 'c' });
    for (let i = 0; i < 5; i++) ref.tell({ type: 'inc' });
    expect(t.system.deadLetters.count('mailbox-full')).toBe(3);
    await settle();
    expect(await ref.ask({ type: 'get' })).toBe(2);
  });
});

describe('addresses and refs', () => {
  it('a ref looked up before its actor exists works once the actor is spawned', async () => {
    await using t = await testSystem();
    const counter = t.system.register('counter', counterMachine);
    const ref = t.system.lookup<typeof counterMachine>(`${t.system.name}/later`);
    expect(ref.id).toBe('later');
    expect(ref.getSnapshot()).toBeUndefined();
    ref.tell({ type: 'inc' });
    expect(t.system.deadLetters.count('no actor at this address')).toBe(1);

    t.system.spawn(counter, { id: 'later' });
    ref.tell({ type: 'inc' });
    expect(await ref.ask({ type: 'get' })).toBe(1);
    expect(ref.getSnapshot()?.context.count).toBe(1);
  });

  it('addresses follow the supervision tree', async () => {
    await using t = await testSystem();
    const counter = t.system.register('counter', counterMachine);
    const triage = t.system.supervisor('triage');
    const ref = t.system.spawn(counter, { id: 'classifier', parent: triage });
    expect(ref.address).toBe(`${t.system.name}/triage/classifier`);
    expect(t.system.spawn(counter, { id: 'x', parent: triage.address }).address).toBe(`${t.system.name}/triage/x`);
    expect(triage.children()).toEqual([ref.address, `${t.system.name}/triage/x`]);
  });

  it('a machine knows its own address as self.id, across restarts', async () => {
    await using t = await testSystem({ supervision: { backoff: { minMs: 0, jitter: 0 } } });
    const whoami = setup({ actions: { explode: () => { throw new Error('boom'); } } }).createMachine({
      on: { who: { actions: reply(({ self }) => self.id) }, crash: { actions: 'explode' } },
    });
    const ref = t.system.spawn(t.system.register('whoami', whoami), { id: 'me', parent: t.system.supervisor('desk') });
    expect(await ref.ask({ type: 'who' })).toBe(`${t.system.name}/desk/me`);
    ref.tell({ type: 'crash' });
    await advance(t.clock, 0);
    expect(await ref.ask({ type: 'who' })).toBe(`${t.system.name}/desk/me`);
  });

  it('ref.subscribe keeps listening across restarts', async () => {
    await using t = await testSystem({ supervision: { backoff: { minMs: 0, jitter: 0 } } });
    const ref = t.system.spawn(t.system.register('counter', counterMachine), { id: 'c' });
    const counts: number[] = [];
    ref.subscribe((snapshot) => void counts.push(snapshot.context.count));
    ref.tell({ type: 'inc' });
    ref.tell({ type: 'crash' });
    await advance(t.clock, 0);
    ref.tell({ type: 'inc' });
    ref.tell({ type: 'inc' });
    await settle();
    expect(counts.at(-1)).toBe(2);
    expect(counts).toContain(1);
  });
});

describe('machines messaging actors', () => {
  const forwarder = setup({
    types: { events: {} as { type: 'forward'; to: string; n: number } | { type: 'bad'; to: string } },
  }).createMachine({
    on: {
      forward: { actions: tellTo(({ event }) => event.to, ({ event }) => ({ type: 'inc', n: event.n })) },
      bad: { actions: tellTo(({ event }) => event.to, () => ({ type: 'inc', n: (() => 1) as unknown as number })) },
    },
  });

  it('tellTo delivers to another actor by address, in order, with the sender recorded', async () => {
    await using t = await testSystem();
    const counter = t.system.spawn(t.system.register('counter', counterMachine), { id: 'c' });
    const fwd = t.system.spawn(t.system.register('forwarder', forwarder), { id: 'fwd' });
    for (let n = 1; n <= 5; n++) fwd.tell({ type: 'forward', to: counter.address, n });
    await settle();
    expect(await counter.ask({ type: 'seen' })).toEqual([1, 2, 3, 4, 5]);

    fwd.tell({ type: 'forward', to: `${t.system.name}/gone`, n: 6 });
    await settle();
    expect(t.system.deadLetters.recent().at(-1)).toMatchObject({ to: `${t.system.name}/gone`, from: fwd.address, eventType: 'inc', reason: 'no actor at this address' });
  });

  it('a tellTo of non-plain data is dead-lettered as invalid; the sending machine does not fail', async () => {
    await using t = await testSystem();
    const counter = t.system.spawn(t.system.register('counter', counterMachine), { id: 'c' });
    const fwd = t.system.spawn(t.system.register('forwarder', forwarder), { id: 'fwd' });
    fwd.tell({ type: 'bad', to: counter.address });
    await settle();
    expect(t.system.deadLetters.recent().at(-1)).toMatchObject({ to: counter.address, from: fwd.address, reason: expect.stringMatching(/^invalid: /) });
    expect(t.eventsOf('rt.actor.failed')).toHaveLength(0);
    expect(await counter.ask({ type: 'get' })).toBe(0);
  });

  it('askTo brings the answer back to the asking machine as an event, and a failure as plain data', async () => {
    await using t = await testSystem();
    const counter = t.system.spawn(t.system.register('counter', counterMachine), { id: 'c' });
    const asker = setup({
      types: { context: {} as { answers: AskAnswer[] }, events: {} as { type: 'query'; to: string } | AskAnswer<'answer'> },
    }).createMachine({
      context: { answers: [] },
      on: {
        query: { actions: askTo(({ event }) => (event as { to: string }).to, { type: 'get' }, { replyType: 'answer', timeoutMs: 1_000 }) },
        answer: { actions: assign({ answers: ({ context, event }) => [...context.answers, event as AskAnswer] }) },
      },
    });
    const ref = t.system.spawn(t.system.register('asker', asker), { id: 'a' });
    counter.tell({ type: 'inc' });
    ref.tell({ type: 'query', to: counter.address });
    ref.tell({ type: 'query', to: `${t.system.name}/nobody` });
    await settle();
    const answers = (ref.getSnapshot()?.context as { answers: AskAnswer[] }).answers;
    expect(answers).toEqual(
      expect.arrayContaining([
        { type: 'answer', ok: true, payload: 1 },
        { type: 'answer', ok: false, error: expect.objectContaining({ name: 'DeadLetterError', data: { to: `${t.system.name}/nobody`, reason: 'no actor at this address' } }) },
      ]),
    );
    expect(answers).toHaveLength(2);
  });
});
