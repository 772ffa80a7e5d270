import { describe, expect, test } from 'vitest';
import { NonRetryableError, RetryableError } from '../../../src/errors.js';
import { fromPromise } from 'xstate';
import { escrow, parallel, sequence, step, stepMachine, workflow } from '../../../machines/index.js';
import { createNet, traceLines } from './harness.js';

describe('workflow saga (issue 3)', () => {
  test('a critical failure after 3 completed steps runs 3 compensations in reverse order, then ends aborted with the cause', async () => {
    const undone: Array<{ step: string; output: unknown; key: string }> = [];
    const forward: Record<string, string> = {};
    const run = (name: string, output: string) => async ({ idempotencyKey }: { idempotencyKey: string }) => {
      forward[name] = idempotencyKey;
      return output;
    };
    const compensate = (name: string) => async ({ output, idempotencyKey }: { output: unknown; idempotencyKey: string }) => {
      undone.push({ step: name, output, key: idempotencyKey });
    };
    const wf = workflow('order', {
      steps: [
        step('reserve', run('reserve', 'r-1'), { compensate: compensate('reserve') }),
        step('charge', run('charge', 'c-1'), { compensate: compensate('charge') }),
        step('label', run('label', 'l-1'), { compensate: compensate('label') }),
        step('ship', async () => { throw new NonRetryableError('carrier refused'); }, { critical: true }),
        step('notify', async () => 'never'),
      ],
    });
    const net = createNet();
    const actor = net.add('o', wf, { input: { workflowId: 'o-9' } });
    await net.settle();
    // Issue 8: an undo never reuses its step's key, or a service deduplicating by key would swallow it.
    expect(forward).toEqual({ reserve: 'o-9/reserve', charge: 'o-9/charge', label: 'o-9/label' });
    expect(undone).toEqual([
      { step: 'label', output: 'l-1', key: 'o-9/label/compensate' },
      { step: 'charge', output: 'c-1', key: 'o-9/charge/compensate' },
      { step: 'reserve', output: 'r-1', key: 'o-9/reserve/compensate' },
    ]);
    expect(net.path('o')).toEqual([
      'reserve.running', 'charge.running', 'label.running', 'ship.running',
      'compensating.label.running', 'compensating.charge.running', 'compensating.reserve.running', 'aborted',
    ]);
    expect(traceLines(net.trace)).toEqual([
      'reserve:pending->running(started)', 'reserve:running->done(succeeded)',
      'charge:pending->running(started)', 'charge:running->done(succeeded)',
      'label:pending->running(started)', 'label:running->done(succeeded)',
      'ship:pending->running(started)', 'ship:running->failed(failed-permanently)',
      'workflow:running->compensating(compensating)',
      'label~c:pending->running(started)', 'label~c:running->done(succeeded)',
      'charge~c:pending->running(started)', 'charge~c:running->done(succeeded)',
      'reserve~c:pending->running(started)', 'reserve~c:running->done(succeeded)',
      'workflow:compensating->aborted(aborted)',
    ]);
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().output).toMatchObject({
      status: 'aborted', compensated: ['label', 'charge', 'reserve'],
      cause: { stepId: 'ship', error: { name: 'NonRetryableError', message: 'carrier refused' } },
    });
  });

  test('steps are critical by default (issue 13): a failed step aborts the workflow and compensates, never a quiet completion', async () => {
    const undone: string[] = [];
    const wf = workflow('w', {
      steps: [
        step('a', async () => 1, { compensate: async () => void undone.push('a') }),
        step('b', async () => { throw new RetryableError('still down'); }, { retry: { maximumAttempts: 2, initialInterval: 10, jitter: 0 } }),
        step('c', async () => 3),
      ],
    });
    const net = createNet();
    const actor = net.add('w', wf);
    await net.settle();
    await net.advance(10);
    expect(undone).toEqual(['a']);
    expect(actor.getSnapshot().output).toMatchObject({ status: 'aborted', skipped: [], cause: { stepId: 'b', error: { message: 'still down' } } });
    expect(actor.getSnapshot().output.results).not.toHaveProperty('c');
  });

  test('a non-critical failure skips the step and the workflow continues to completion', async () => {
    const wf = workflow('w', {
      steps: [
        step('a', async () => 1),
        step('b', async () => { throw new RetryableError('flaky'); }, { retry: { maximumAttempts: 1 }, critical: false }),
        step('c', async ({ context }) => context),
      ],
    });
    const net = createNet();
    const actor = net.add('w', wf);
    await net.settle();
    expect(net.path('w')).toEqual(['a.running', 'b.running', 'c.running', 'completed']);
    expect(actor.getSnapshot().output).toMatchObject({ status: 'completed', skipped: [{ stepId: 'b', error: { message: 'flaky' } }], results: { a: 1, c: { a: 1 } } });
    expect(traceLines(net.trace)).toContain('b:running->skipped(exhausted)');
  });

  test('parallel groups and nested sequences compile to parallel and compound states', async () => {
    const seen: string[] = [];
    const mark = (id: string) => async () => { seen.push(id); return id; };
    const wf = workflow('w', {
      steps: [
        step('history', mark('history')),
        parallel([step('sentiment', mark('sentiment')), sequence('stock', [step('inventory', mark('inventory')), step('price', mark('price'))])], { id: 'analyse' }),
        step('draft', async ({ context }) => Object.keys(context as object).sort()),
      ],
    });
    const net = createNet();
    const actor = net.add('w', wf);
    await net.settle();
    expect(net.path('w')).toEqual([
      'history.running',
      'analyse.{sentiment.running|stock.inventory.running}',
      'analyse.{sentiment.done|stock.inventory.running}',
      'analyse.{sentiment.done|stock.price.running}',
      'draft.running',
      'completed',
    ]);
    expect(actor.getSnapshot().output).toMatchObject({ results: { draft: ['history', 'inventory', 'price', 'sentiment'] } });
  });

  test('a failing compensation is retried by its own policy and, exhausted, escalated — never dropped', async () => {
    let tries = 0;
    const wf = workflow('w', {
      escrow: 'esc',
      steps: [
        step('book', async () => 'b', { compensate: { run: async () => { tries++; throw new RetryableError('api down'); }, retry: { maximumAttempts: 2, initialInterval: 50, jitter: 0 } } }),
        step('pay', async () => { throw new NonRetryableError('card declined'); }, { critical: true }),
      ],
    });
    const net = createNet();
    const queue = net.add('esc', escrow);
    const actor = net.add('w', wf);
    await net.settle();
    await net.advance(50);
    expect(tries).toBe(2);
    expect(net.path('w')).toEqual(['book.running', 'pay.running', 'compensating.book.running', 'compensating.book.retrying', 'compensating.book.running', 'compensating.book.escalated']);
    expect(Object.keys((queue.getSnapshot().context as { items: object }).items)).toEqual(['w/book~compensate/2']);
    queue.send({ type: 'escrow.approve', itemId: 'w/book~compensate/2', by: 'ops' });
    await net.settle();
    expect(net.path('w').at(-1)).toBe('aborted');
    expect(actor.getSnapshot().output).toMatchObject({ status: 'aborted', compensated: ['book'] });
  });

  test('workflow.cancel aborts the running attempt through its signal and compensates what finished', async () => {
    let signal: AbortSignal | undefined;
    const undone: string[] = [];
    const wf = workflow('w', {
      steps: [
        step('a', async () => 'a', { compensate: async () => { undone.push('a'); } }),
        step('b', (args) => { signal = args.signal; return new Promise(() => {}); }),
      ],
    });
    const net = createNet();
    const actor = net.add('w', wf);
    await net.settle();
    actor.send({ type: 'workflow.cancel', reason: 'customer withdrew' });
    await net.settle();
    expect(signal?.aborted).toBe(true);
    expect(undone).toEqual(['a']);
    expect(net.path('w')).toEqual(['a.running', 'b.running', 'compensating.a.running', 'aborted']);
    expect(actor.getSnapshot().output).toMatchObject({ status: 'aborted', cause: { stepId: '', error: { name: 'Aborted' } } });
  });

  test('step implementations are named in setup and swapped with provide()', async () => {
    const wf = workflow('w', { steps: [step('fetch', async () => 'real'), step('use', async ({ context }) => context)] });
    const stubbed = wf.provide({ actors: { 'step:fetch': fromPromise(async () => 'stub') } });
    const net = createNet();
    const actor = net.add('w', stubbed);
    await net.settle();
    expect(actor.getSnapshot().output).toMatchObject({ results: { fetch: 'stub', use: { fetch: 'stub' } } });
  });

  test('stepMachine runs one step with the same states', async () => {
    const net = createNet();
    const actor = net.add('s', stepMachine(step('ping', async () => 'pong')));
    await net.settle();
    expect(net.path('s')).toEqual(['ping.running', 'completed']);
    expect(actor.getSnapshot().output).toMatchObject({ results: { ping: 'pong' } });
  });
});
