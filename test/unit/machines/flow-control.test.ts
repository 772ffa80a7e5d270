/**
 * Debounce and throttle by key (issue 11) on the simulated clock: a burst of a key becomes its last event after the
 * quiet time (at the latest maxWaitMs after the first); keys are independent; throttle lets the first through at
 * once and then one per period, the latest seen; a restored actor forwards what it held.
 */
import { describe, expect, test } from 'vitest';
import { assign, createActor, setup } from 'xstate';
import { InvalidConfigError } from '../../../src/errors.js';
import { flowControl, type FlowContext } from '../../../machines/index.js';
import { createNet } from './harness.js';

const sink = setup({ types: { context: {} as { got: string[] }, events: {} as { type: string; n?: number } } }).createMachine({
  context: { got: [] },
  on: { '*': { actions: assign({ got: ({ context, event }) => [...context.got, `${event.type}:${String(event.n)}`] }) } },
});

function setupFlow(input: { waitMs: number; mode?: 'debounce' | 'throttle'; maxWaitMs?: number }) {
  const net = createNet();
  const flow = net.add('flow', flowControl, { input: { target: 'sink', ...input } });
  const out = net.add('sink', sink);
  const got = () => (out.getSnapshot().context as { got: string[] }).got;
  const send = (key: string, n: number) => flow.send({ type: 'flow.event', key, event: { type: `ev-${key}`, n } });
  return { net, flow, got, send };
}

describe('flow control: debounce and throttle by key (issue 11)', () => {
  test('debounce: a burst of a key goes out as its last event once the key is quiet; keys are independent', async () => {
    const { net, got, send } = setupFlow({ waitMs: 100 });
    for (let n = 1; n <= 5; n++) {
      send('a', n);
      await net.advance(50); // never quiet for 100 ms
    }
    send('b', 1);
    expect(got()).toEqual([]);
    await net.advance(100);
    expect(got()).toEqual(['ev-a:5', 'ev-b:1']);
    await net.advance(1_000);
    expect(got()).toEqual(['ev-a:5', 'ev-b:1']); // nothing more
  });

  test('debounce with maxWaitMs: a key that never goes quiet still gets through', async () => {
    const { net, got, send } = setupFlow({ waitMs: 100, maxWaitMs: 250 });
    for (let n = 1; n <= 10; n++) {
      send('a', n);
      await net.advance(50);
    }
    expect(got()[0]).toBe('ev-a:5'); // the latest at 250 ms after the first
  });

  test('throttle: the first goes at once, then the latest of each period', async () => {
    const { net, flow, got, send } = setupFlow({ waitMs: 100, mode: 'throttle' });
    send('a', 1);
    await net.settle();
    expect(got()).toEqual(['ev-a:1']);
    send('a', 2);
    send('a', 3);
    await net.advance(100);
    expect(got()).toEqual(['ev-a:1', 'ev-a:3']);
    await net.advance(100); // a quiet period: the key opens again
    send('a', 4);
    await net.settle();
    expect(got()).toEqual(['ev-a:1', 'ev-a:3', 'ev-a:4']);
    expect((flow.getSnapshot().context as FlowContext)).toMatchObject({ forwarded: 3, coalesced: 1 });
  });

  test('a restored actor forwards what it held at its due time', async () => {
    const first = setupFlow({ waitMs: 100 });
    first.send('a', 7);
    await first.net.settle();
    const snapshot = first.flow.getPersistedSnapshot();
    const { net, got } = (() => {
      const net = createNet();
      net.add('flow', flowControl, { input: { target: 'sink', waitMs: 100 }, snapshot });
      const out = net.add('sink', sink);
      return { net, got: () => (out.getSnapshot().context as { got: string[] }).got };
    })();
    const timers = (net.get('flow').getSnapshot().context as FlowContext).timers;
    expect(Object.values(timers)).toHaveLength(1); // the due time survived the restore
    await net.advance(100); // the restored actor's own `after` is not re-armed (xstate#5331): the runtime sends the event
    expect(got()).toEqual([]);
    net.get('flow').send(Object.values(timers)[0]!.event); // what the runtime sends at dueAt
    await net.settle();
    expect(got()).toEqual(['ev-a:7']);
  });

  test('bad settings are refused naming the field', () => {
    for (const [input, field] of [[{ target: '', waitMs: 1 }, 'flowControl.target'], [{ target: 't', waitMs: 0 }, 'flowControl.waitMs'], [{ target: 't', waitMs: 10, mode: 'x' }, 'flowControl.mode'], [{ target: 't', waitMs: 10, maxWaitMs: 5 }, 'flowControl.maxWaitMs']] as const) {
      const actor = createActor(flowControl, { input: input as never });
      let error: unknown;
      actor.subscribe({ error: (e) => void (error = e) });
      actor.start();
      expect((error as InvalidConfigError).field).toBe(field);
    }
  });
});
