/**
 * The inspector's chart model (issue 14), on the demo workflow's real definition (as the runtime describes it,
 * eventless transitions included) and on an outside app's raw config: steps collapse, internal transitions hide,
 * labels are human, `#id.path` targets resolve, initial states and self-loops are kept.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createSupportScenario, type SupportScenario } from '../../../examples/support-workflow.js';
import { activeLeaves, humanLabel, modelFromConfig, modelFromDefinition, stepBadge, activePaths, viewOf, isDrawnActive, STEPS, type ChartModel } from '../../../inspector/ui/chart-model.js';

let scenario: SupportScenario;
let model: ChartModel;

beforeAll(async () => {
  scenario = await createSupportScenario({ latencyMs: 5_000 });
  scenario.startTicket('t1', { customer: 'a@b', text: 'hi', crmFailures: 0, confidence: 1, badAddress: false });
  model = modelFromDefinition(scenario.system.describe('support/tickets/t1')!.definition);
});

afterAll(() => scenario.system.shutdown({ timeoutMs: 2_000 }));

const paths = (vm: ReturnType<typeof viewOf>) => {
  const out: string[] = [];
  const walk = (n: ReturnType<typeof viewOf>['root']) => (out.push(n.path), n.children.forEach(walk));
  walk(vm.root);
  return out;
};

describe('the demo workflow', () => {
  test('by default every step is one node, with no internal event and no state inside a step', () => {
    const vm = viewOf(model, { showInternal: false, expanded: new Set() });
    const drawn = paths(vm);
    expect(drawn).toContain('history');
    expect(drawn).toContain('assess.sentiment');
    expect(drawn).toContain('compensating.draft');
    expect(drawn.some((p) => p.startsWith('history.'))).toBe(false);
    // A step's result (`troupe.task.done.run:history`) is drawn; the runtime's bookkeeping events are not.
    expect(vm.edges.some((e) => e.events.some((ev) => ev.startsWith('troupe.') && !ev.startsWith('troupe.task.')))).toBe(false);
    // The step chain reads left to right with human labels; a critical failure leads to compensation.
    expect(vm.edges).toContainEqual(expect.objectContaining({ source: 'history', target: 'assess', label: 'done' }));
    // The steps are the root's own states, drawn in one box: every step's failure into compensation is one edge
    // from it ("any step fails"), and so is the workflow's cancel.
    expect(vm.root.children.map((c) => c.path)).toEqual([STEPS, 'completed', 'compensating', 'aborted']);
    expect(vm.root.children[0]!.children.map((c) => c.path)).toEqual(model.root.children.filter((c) => !['completed', 'compensating', 'aborted'].includes(c.key)).map((c) => c.path));
    expect(vm.edges).toContainEqual(expect.objectContaining({ source: STEPS, target: 'compensating', label: 'fail' }));
    expect(vm.edges.filter((e) => e.target === 'compensating' && e.label === 'fail')).toHaveLength(1);
    expect(vm.edges).toContainEqual(expect.objectContaining({ source: STEPS, target: 'compensating', label: 'cancel' }));
    expect(vm.root.initial).toBe(STEPS);
    expect(vm.root.children[0]!.initial).toBe('history');
  });

  test('an expanded step shows its states, the route as a nameless choice, and human labels', () => {
    const vm = viewOf(model, { showInternal: false, expanded: new Set(['history']) });
    const history = vm.root.children.find((c) => c.path === STEPS)!.children.find((c) => c.key === 'history')!;
    expect(history.collapsed).toBe(false);
    expect(history.children.map((c) => c.key)).toEqual(expect.arrayContaining(['route', 'running', 'retrying', 'escalated', 'done']));
    expect(history.children.find((c) => c.key === 'route')!.choice).toBe(true);
    const labels = new Set(vm.edges.filter((e) => e.source.startsWith('history.')).map((e) => e.label));
    for (const label of ['retry', 'escalate', 'approve', 'reject', 'backoff over', 'error']) expect(labels).toContain(label);
    expect([...labels].some((l) => l.startsWith('troupe.') || l.startsWith('xstate.'))).toBe(false);
  });

  test('the toggle shows internal transitions with their raw names and the route by name', () => {
    const vm = viewOf(model, { showInternal: true, expanded: new Set(['history']) });
    const internal = vm.edges.filter((e) => e.internal);
    expect(internal.map((e) => e.label)).toContain('troupe.answer.breaker.history');
    expect(paths(vm)).toContain('history.route');
    expect(vm.root.children.find((c) => c.path === STEPS)!.children.find((c) => c.key === 'history')!.children.find((c) => c.key === 'route')!.choice).toBe(false);
  });

  test('a collapsed step badge names its active sub-state in words', () => {
    const value = { assess: { sentiment: 'escalated', inventory: 'running' } };
    const active = activePaths(value);
    expect(stepBadge('assess.sentiment', 'sentiment', active, {})).toBe('waiting for a person');
    expect(stepBadge('history', 'history', activePaths({ history: 'retrying' }), { steps: { history: { attempt: 2 } } })).toBe('retrying · attempt 3 next');
    expect(stepBadge('history', 'history', active, {})).toBe('');
    expect(activeLeaves(value)).toEqual(['assess.sentiment.escalated', 'assess.inventory.running']);
    // The box the steps are drawn in is active while a step is.
    expect(isDrawnActive(STEPS, active)).toBe(true);
    expect(isDrawnActive(STEPS, activePaths({ compensating: { draft: 'running' } }))).toBe(false);
    expect(isDrawnActive(STEPS, activePaths('completed'))).toBe(false);
  });
});

describe('an outside app config', () => {
  const checkout = JSON.stringify({
    id: 'checkout', initial: 'cart',
    states: {
      cart: { on: { ADD: 'cart', CHECKOUT: 'payment.card', NOTE: {} } },
      payment: { initial: 'card', states: { card: { on: { CANCEL: '#checkout.cancelled', FAIL: { target: '#pay.failed' } } }, failed: { id: 'pay.failed' } } },
      cancelled: { type: 'final' },
    },
  });

  test('#id.path targets resolve (the longest id that prefixes them), initial states, self-loops and targetless transitions are kept', () => {
    const m = modelFromConfig(checkout);
    expect(m.edges).toContainEqual({ source: 'payment.card', target: 'cancelled', event: 'CANCEL' });
    expect(m.edges).toContainEqual({ source: 'payment.card', target: 'payment.failed', event: 'FAIL' });
    expect(m.root.initial).toBe('cart');
    expect(m.targetless.get('cart')).toEqual(['NOTE']);
    const vm = viewOf(m, { showInternal: false, expanded: new Set() });
    expect(vm.root.children.find((c) => c.key === 'cart')!.targetless).toEqual(['NOTE']);
    expect(vm.loops).toEqual([expect.objectContaining({ source: 'cart', target: 'cart', label: 'ADD' })]);
    expect(vm.edges.some((e) => e.source === e.target)).toBe(false);
  });

  test('an unknown #id target draws nothing rather than a wrong edge', () => {
    const m = modelFromConfig(JSON.stringify({ id: 'x', initial: 'a', states: { a: { on: { GO: '#nowhere.b' } }, b: {} } }));
    expect(m.edges).toEqual([]);
  });

  test('human labels of delays and actor results', () => {
    expect(humanLabel('xstate.after.1000.x.a')).toBe('after 1000 ms');
    expect(humanLabel('xstate.after.history:retry.w.active')).toBe('backoff over');
    expect(humanLabel('xstate.error.actor.0.w.running')).toBe('error');
    expect(humanLabel('troupe.task.done.run:history')).toBe('done');
    expect(humanLabel('troupe.task.error.run:history')).toBe('error');
    expect(humanLabel('escrow.approved')).toBe('approve');
  });
});
