import { describe, expect, test } from 'vitest';
import { escrow, step, workflow, type EscrowItem } from '../../../machines/index.js';
import { createNet, traceLines } from './harness.js';

/** A workflow whose `draft` step escalates at once (confidence below threshold), with the escrow beside it. */
function setupEscalation(tier: string, critical = false) {
  const wf = workflow('reply', {
    escrow: 'support/escrow',
    steps: [
      step('draft', async () => ({ text: 'Dear customer', confidence: 0.5 }), { minConfidence: 0.9, critical, escalation: { tier } }),
      step('send', async ({ context }) => ({ sent: (context as { draft?: { text: string } }).draft?.text ?? null })),
    ],
  });
  const net = createNet();
  const queue = net.add('support/escrow', escrow, { input: { notify: 'support/pager' } });
  const run = net.add('support/ticket-7', wf, { input: { workflowId: 'ticket-7', address: 'support/ticket-7' } });
  const items = () => Object.values((queue.getSnapshot().context as { items: Record<string, EscrowItem> }).items);
  return { net, queue, run, items };
}

describe('escrow (issue 3)', () => {
  test('approve with an edited output: the step is done with the edit and the workflow continues', async () => {
    const { net, queue, run, items } = setupEscalation('customer-facing');
    await net.settle();
    expect(net.path('support/ticket-7')).toEqual(['draft.running', 'draft.escalated']);
    expect(items()).toEqual([expect.objectContaining({ id: 'ticket-7/draft/1', tier: 'customer-facing', level: 0, reason: 'low-confidence', output: { text: 'Dear customer', confidence: 0.5 } })]);
    queue.send({ type: 'escrow.approve', itemId: 'ticket-7/draft/1', output: { text: 'Dear Ms. Lee' }, by: 'ana' });
    await net.settle();
    expect(items()).toEqual([]);
    expect(net.path('support/escrow')).toEqual(['idle', 'waiting', 'idle']);
    expect(net.path('support/ticket-7')).toEqual(['draft.running', 'draft.escalated', 'send.running', 'completed']);
    expect(run.getSnapshot().output).toMatchObject({ status: 'completed', results: { draft: { text: 'Dear Ms. Lee' }, send: { sent: 'Dear Ms. Lee' } } });
    expect(traceLines(net.trace, ['step', 'workflow', 'escrow'])).toEqual([
      'draft:pending->running(started)', 'draft:running->escalated(escalated)', 'draft:submitted->operator(queued)',
      'draft:operator->approved(approved)', 'draft:escalated->done(approved)',
      'send:pending->running(started)', 'send:running->done(succeeded)', 'workflow:running->completed(completed)',
    ]);
  });

  test('reject: the step fails — a non-critical step is skipped', async () => {
    const { net, queue, run } = setupEscalation('internal');
    await net.settle();
    queue.send({ type: 'escrow.reject', itemId: 'ticket-7/draft/1', reason: 'off-brand', by: 'ana' });
    await net.settle();
    expect(net.path('support/ticket-7')).toEqual(['draft.running', 'draft.escalated', 'send.running', 'completed']);
    expect(run.getSnapshot().output).toMatchObject({ skipped: [{ stepId: 'draft' }] });
    const rejected = net.trace.find((e) => e.kind === 'step' && e.outcome === 'rejected');
    expect(rejected).toMatchObject({ from: 'escalated', to: 'skipped', error: { name: 'NonRetryableError', message: 'rejected by a person: off-brand' } });
  });

  test('retry: a person asks for another attempt, which starts a fresh retry budget', async () => {
    let calls = 0;
    const wf = workflow('w', {
      escrow: 'esc',
      steps: [step('a', async () => (++calls === 1 ? { confidence: 0.1 } : { confidence: 0.99 }), { minConfidence: 0.5 })],
    });
    const net = createNet();
    const queue = net.add('esc', escrow);
    const run = net.add('w', wf);
    await net.settle();
    queue.send({ type: 'escrow.retry', itemId: 'w/a/1' });
    await net.settle();
    expect(net.path('w')).toEqual(['a.running', 'a.escalated', 'a.running', 'completed']);
    expect(run.getSnapshot().output).toMatchObject({ results: { a: { confidence: 0.99 } } });
  });

  test('SLA breach: after 5 minutes a customer-facing item goes to the next level, recorded on the item, in the trace and to the notify address', async () => {
    const { net, items } = setupEscalation('customer-facing');
    await net.settle();
    await net.advance(5 * 60_000 - 1);
    expect(items()[0]?.level).toBe(0);
    await net.advance(1);
    expect(items()[0]).toMatchObject({ level: 1, breaches: [{ at: 1_000_000 + 300_000, fromLevel: 'operator', toLevel: 'team-lead' }] });
    await net.advance(5 * 60_000);
    expect(items()[0]).toMatchObject({ level: 2 });
    await net.advance(5 * 60_000);
    // The top level keeps the item; further breaches are still recorded.
    expect(items()[0]?.breaches.map((b) => b.toLevel)).toEqual(['team-lead', 'manager', 'manager']);
    expect(traceLines(net.trace, ['escrow'])).toEqual([
      'draft:submitted->operator(queued)', 'draft:operator->team-lead(sla-breached)', 'draft:team-lead->manager(sla-breached)', 'draft:manager->manager(sla-breached)',
    ]);
    // The workflow records each breach in its own step trace too, and still waits for a person.
    expect(net.trace.filter((e) => e.kind === 'step' && e.outcome === 'sla-breached').map((e) => e.detail?.['levelName'])).toEqual(['team-lead', 'manager', 'manager']);
    expect(net.path('support/ticket-7').at(-1)).toBe('draft.escalated');
    expect(net.outbox.filter((m) => m.to === 'support/pager').map((m) => m.event.type)).toEqual(['escrow.breached', 'escrow.breached', 'escrow.breached']);
  });

  test('an internal item has a 30-minute SLA; a duplicate submission is ignored', async () => {
    const net = createNet();
    const queue = net.add('esc', escrow);
    const item = { id: 'w/a/1', workflowId: 'w', stepId: 'a', replyTo: 'w', tier: 'internal' };
    queue.send({ type: 'escrow.submit', item });
    await net.advance(10_000);
    queue.send({ type: 'escrow.submit', item });
    await net.advance(30 * 60_000 - 10_001);
    const level = () => (queue.getSnapshot().context as { items: Record<string, EscrowItem> }).items['w/a/1']?.level;
    expect(level()).toBe(0);
    await net.advance(1);
    expect(level()).toBe(1);
    expect(net.outbox.map((m) => m.event)).toEqual([{ type: 'escrow.escalated', itemId: 'w/a/1', level: 1, levelName: 'team-lead' }]);
  });

  test('after scheduleToCloseMs escalated the step, a person\'s retry gets a fresh window', async () => {
    let calls = 0;
    const wf = workflow('w', {
      escrow: 'esc',
      steps: [step('a', ({ signal }) => (++calls === 1 ? new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')))) : 'ok'), {
        scheduleToCloseMs: 1_000, retry: { onExhausted: 'escalate' },
      })],
    });
    const net = createNet();
    const queue = net.add('esc', escrow);
    const run = net.add('w', wf);
    await net.settle();
    await net.advance(1_000);
    expect(net.path('w')).toEqual(['a.running', 'a.escalated']);
    await net.advance(60_000);
    queue.send({ type: 'escrow.retry', itemId: 'w/a/1' });
    await net.settle();
    expect(run.getSnapshot().output).toMatchObject({ results: { a: 'ok' } });
    expect(net.path('w')).toEqual(['a.running', 'a.escalated', 'a.running', 'completed']);
  });
});
