/**
 * The inspector end to end in real headless Chromium (issue 5): the demo system and the inspector, the page
 * opened with its token; the workflow's active state changes live, the timeline shows a retry and a
 * compensation, a person approves the escrow item in the UI, and the workflow completes.
 * Issue 14: the chart fits its panel, zooms and pans, steps are collapsed (a badge says what they do) and open
 * on click, internal transitions show only on request; an outside app's `#id.path` target is drawn; a page
 * opened after the workflows finished, or reloaded, still lists them and keeps the log; the workflow list
 * filters by status and searches by id; an escrow card shows the workflow's input and the step's, and a decision
 * asks for confirmation under the decider's name, remembered by the browser and recorded in the trace; the
 * timeline has an axis, a legend and step data; a large chart has a minimap; a log event shows the past state.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import type { Browser, Page } from 'playwright-core';
import { createSupportScenario, type SupportScenario } from '../../examples/support-workflow.js';
import { startInspector, type Inspector } from '../../inspector/index.js';
import { pool } from '../../machines/index.js';
import { artifact, launchChromium } from '../fixtures/browser.js';

let browser: Browser;
let scenario: SupportScenario;
let inspector: Inspector;
let page: Page;

beforeAll(async () => {
  browser = await launchChromium();
  scenario = await createSupportScenario({ latencyMs: 150 });
  inspector = await startInspector({ system: scenario.system });
  page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  await page.goto(inspector.url);
  await page.locator('#connection', { hasText: 'live' }).waitFor();
}, 60_000);

afterAll(async () => {
  await page?.close();
  await browser?.close();
  await inspector?.close();
  await scenario?.system.shutdown({ timeoutMs: 2_000 });
});

const workflow = (id: string) => `#workflows li[data-address="support/tickets/${id}"]`;

test('the page loads with its token, then drops it from the address bar', async () => {
  expect(new URL(page.url()).search).toBe('');
  await page.locator('#tree li[data-address="support/services/escrow"]').waitFor();
  await expect(page.locator('#tree li[data-address="support/services/escrow"]').count()).resolves.toBe(1);
  await page.locator('#breakers li[data-state="closed"]').waitFor();
  await expect(page.locator('#breakers li[data-state="closed"]').count()).resolves.toBe(1);
});

test('a workflow started after the page opened: its active state changes live, then a person approves and it completes', async () => {
  // Sample the selected actor's state as the page shows it, from before the run starts.
  await page.evaluate(() => {
    const w = window as unknown as { seen: string[] };
    w.seen = [];
    setInterval(() => {
      const text = document.getElementById('active-value')?.textContent ?? '';
      if (text !== '' && w.seen.at(-1) !== text) w.seen.push(text);
    }, 20);
  });
  const runs = scenario.startDemoTickets();
  await page.locator(workflow('ticket-42')).click();
  // The chart is drawn (elkjs loaded lazily) with the active step highlighted and its badge saying why it waits.
  await page.locator('#chart svg.chart g.state.collapsed.active[data-path="assess.sentiment"][data-badge="waiting for a person"]').waitFor({ timeout: 20_000 });
  expect(await page.locator('#chart svg.chart').getAttribute('data-active')).toBe('assess.sentiment.escalated,assess.inventory.done');
  const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
  expect(seen.some((v) => v.startsWith('history.'))).toBe(true);
  expect(seen.at(-1)).toBe('assess.(sentiment.escalated | inventory.done)');
  await page.screenshot({ path: artifact('inspector-escalated.png'), scale: 'css' });

  // The timeline shows the CRM retries with their backoff.
  await expect(page.locator('#timeline tr[data-step="history"][data-outcome="retrying"]').count()).resolves.toBe(2);
  expect(await page.locator('#timeline tr[data-step="history"][data-outcome="retrying"] .detail').first().textContent()).toMatch(/backoff \d+ ms/);

  // The escrow item waits with an SLA countdown; a person approves it in the UI.
  const item = page.locator('#escrow-queue .item[data-item-id="ticket-42/sentiment/1"], .escrow-list .item[data-item-id="ticket-42/sentiment/1"]');
  await item.waitFor();
  expect(await item.locator('.sla').textContent()).toMatch(/^SLA \d+:\d\d$/);
  // Issue 14: the card says why, and shows what the run is about and what the step was given.
  expect(await item.locator('.item-reason').textContent()).toMatch(/^Why: \S/);
  expect(await item.locator('.workflow-input pre').textContent()).toContain('I was charged twice for my order');
  expect(await item.locator('.step-input pre').textContent()).toMatch(/\S/);
  await page.screenshot({ path: artifact('inspector-escrow-card.png'), scale: 'css' });
  // Its link shows the workflow.
  await page.locator(`#tree li[data-address="support/services/escrow"] .name, #tree li[data-address="support/services/escrow"]`).first().click();
  await page.locator('#tree li.selected[data-address="support/services/escrow"]').waitFor();
  await item.locator('a.open-workflow').click();
  await page.locator(`${workflow('ticket-42')}.selected`).waitFor();

  expect(await page.locator(`${workflow('ticket-42')} a.escrow-link`).textContent()).toBe('1 waiting');
  // A decision needs the decider's name, and asks for confirmation: Cancel sends nothing.
  await page.locator('#decider-name').fill('');
  await item.locator('button[data-decision="approve"]').click();
  expect(await item.locator('.decision-status').textContent()).toContain('Enter your name');
  await page.locator('#decider-name').fill('Ana Lopez');
  await page.locator('#decider-name').dispatchEvent('change');
  await item.locator('button[data-decision="approve"]').click();
  expect(await item.locator('.confirm').textContent()).toContain('Approve ticket-42 / sentiment as Ana Lopez?');
  await item.locator('.confirm button[data-cancel]').click();
  await new Promise((resolve) => setTimeout(resolve, 300));
  await expect(item.count()).resolves.toBe(1); // still waiting: nothing was sent
  await item.locator('button[data-decision="approve"]').click();
  await item.locator('.confirm button[data-confirm="approve"]').click();
  await page.locator('#workflow-status', { hasText: 'completed' }).waitFor({ timeout: 20_000 });
  await page.locator('#chart svg.chart g.state.leaf.active[data-path="completed"]').waitFor();
  await expect(item.count()).resolves.toBe(0);
  await expect(page.locator('#timeline tr[data-kind="escrow"][data-outcome="approved"]').count()).resolves.toBe(1);
  expect(await page.locator('#timeline tr[data-kind="escrow"][data-outcome="approved"] .detail').textContent()).toContain('by Ana Lopez');
  const decided = (await scenario.system.trace('ticket-42')).find((e) => e.kind === 'escrow' && e.outcome === 'approved');
  expect(decided?.detail).toMatchObject({ by: 'Ana Lopez' }); // the decision record names the person
  expect(await page.evaluate(() => localStorage.getItem('troupe.inspector.decider'))).toBe('Ana Lopez'); // entered once per browser
  await page.screenshot({ path: artifact('inspector-completed.png'), scale: 'css' });
  expect(runs.completes).toBe('support/tickets/ticket-42');
}, 60_000);

test('the other ticket fails critically: the timeline shows its compensations in reverse order and the abort', async () => {
  await page.locator(workflow('ticket-43')).click();
  await page.locator('#workflow-status', { hasText: 'aborted' }).waitFor({ timeout: 20_000 });
  const undone = await page.locator('#timeline tr[data-kind="compensation"][data-outcome="succeeded"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-step')));
  expect(undone).toEqual(['draft', 'hold-refund']);
  await expect(page.locator('#timeline tr[data-kind="workflow"][data-outcome="compensating"]').count()).resolves.toBe(1);
  await expect(page.locator('#timeline tr[data-step="history"][data-outcome="retrying"]').count()).resolves.toBe(1);
  await page.locator('#chart svg.chart g.state.leaf.active[data-path="aborted"]').waitFor();
  // Issue 14: a time axis and a legend; a step's lane shows what it was given and what it returned.
  expect(await page.locator('#timeline svg.lanes text.tick').count()).toBeGreaterThanOrEqual(3);
  expect(await page.locator('#timeline svg.lanes text.tick').first().textContent()).toBe('0');
  expect(await page.locator('#timeline .legend .key').allTextContents()).toContain('waiting for a person');
  await page.locator('#timeline svg.lanes text.lane-label[data-lane="draft"]').click();
  const draft = page.locator('#timeline .step-data[data-step="draft"]');
  await draft.waitFor();
  expect(await draft.locator('.step-input pre').textContent()).toContain('Where is my parcel?');
  expect(await draft.locator('.step-output pre').textContent()).not.toBe('null');
  await page.screenshot({ path: artifact('inspector-compensated.png'), scale: 'css' });

  // Time travel: a click on an old event of the log shows the workflow as it was then; "back to live" returns.
  await page.locator('#log tr[data-type="step.retrying"]', { hasText: 'ticket-43' }).first().click();
  await page.locator('#time-travel:not([hidden])').waitFor();
  expect(await page.locator('#active-value').textContent()).toMatch(/history/);
  await page.locator('#chart svg.chart g.state.active[data-path="history"]').waitFor();
  await page.locator('#back-to-live').click();
  await page.locator('#active-value', { hasText: 'aborted' }).waitFor();
  await expect(page.locator('#time-travel').isHidden()).resolves.toBe(true);
}, 60_000);

/** The chart's drawn content and the panel, in page pixels. */
async function chartBoxes(p: Page): Promise<{ content: DOMRect; panel: DOMRect; scale: number }> {
  return p.evaluate(() => {
    const box = document.getElementById('chart')!;
    const viewport = box.querySelector('svg.chart g.viewport')!;
    return { content: viewport.getBoundingClientRect().toJSON() as DOMRect, panel: box.getBoundingClientRect().toJSON() as DOMRect, scale: Number(box.querySelector('svg.chart')!.getAttribute('data-scale')) };
  });
}

function expectInside(content: DOMRect, panel: DOMRect): void {
  expect(content.width).toBeGreaterThan(100);
  expect(content.left).toBeGreaterThanOrEqual(panel.left - 1);
  expect(content.top).toBeGreaterThanOrEqual(panel.top - 1);
  expect(content.right).toBeLessThanOrEqual(panel.right + 1);
  expect(content.bottom).toBeLessThanOrEqual(panel.bottom + 1);
}

test('the workflow chart fits its panel on open, zooms and pans; a step opens on click; internal transitions only on request', async () => {
  await page.locator(workflow('ticket-42')).click();
  await page.locator('#chart[data-drawn="support/tickets/ticket-42|plain|"] svg.chart g.state.active[data-path="completed"]').waitFor();
  const fitted = await chartBoxes(page);
  expectInside(fitted.content, fitted.panel);
  // Steps are single nodes: no state inside a step is drawn, no runtime-internal event either.
  await expect(page.locator('#chart g.state.collapsed').count()).resolves.toBeGreaterThanOrEqual(8);
  await expect(page.locator('#chart g.state[data-path^="history."]').count()).resolves.toBe(0);
  await expect(page.locator('#chart circle.initial').count()).resolves.toBeGreaterThan(0);
  await page.screenshot({ path: artifact('inspector-chart-fitted.png'), scale: 'css', clip: fitted.panel });

  // Zoom: the button, the wheel, the keyboard; drag pans; fit comes back to the fitted view.
  await page.locator('#zoom-in').click();
  expect((await chartBoxes(page)).scale).toBeGreaterThan(fitted.scale);
  await page.mouse.move(fitted.panel.left + fitted.panel.width / 2, fitted.panel.top + fitted.panel.height / 2);
  await page.mouse.wheel(0, 600);
  await page.waitForFunction((k) => Number(document.querySelector('#chart svg.chart')!.getAttribute('data-scale')) < k, fitted.scale);
  await page.locator('#zoom-fit').click();
  expect((await chartBoxes(page)).scale).toBeCloseTo(fitted.scale, 3);
  await page.locator('#chart').focus();
  await page.keyboard.press('+');
  expect((await chartBoxes(page)).scale).toBeGreaterThan(fitted.scale);
  const before = (await chartBoxes(page)).content;
  const from = { x: fitted.panel.left + 20, y: fitted.panel.top + 20 };
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move(from.x + 60, from.y + 30, { steps: 4 });
  await page.mouse.up();
  const after = (await chartBoxes(page)).content;
  expect(after.left - before.left).toBeCloseTo(60, 0);
  expect(after.top - before.top).toBeCloseTo(30, 0);
  // Zoomed in, part of the chart is out of view: the minimap shows, its frame smaller than the chart; a click on
  // its top-left corner brings that corner into view.
  const minimap = page.locator('#chart svg.minimap');
  await minimap.waitFor();
  const frame = await minimap.locator('rect.frame').evaluate((r) => ({ w: Number(r.getAttribute('width')), h: Number(r.getAttribute('height')) }));
  const chartSize = await page.evaluate(() => { const svg = document.querySelector('#chart svg.chart') as SVGSVGElement; return { w: Number(svg.dataset['width']), h: Number(svg.dataset['height']) }; });
  expect(frame.w).toBeLessThan(chartSize.w);
  await page.screenshot({ path: artifact('inspector-chart-minimap.png'), scale: 'css', clip: fitted.panel });
  const mm = (await minimap.boundingBox())!;
  await page.mouse.click(mm.x + 3, mm.y + mm.height / 2);
  const moved = await minimap.locator('rect.frame').evaluate((r) => Number(r.getAttribute('x')));
  expect(moved).toBeLessThan(chartSize.w * 0.25); // the view now starts near the chart's left edge
  await page.keyboard.press('0');
  await expect(minimap.isVisible()).resolves.toBe(false); // fitted: the whole chart is in view
  expect((await chartBoxes(page)).scale).toBeCloseTo(fitted.scale, 3);

  // A collapsed step opens on click: its states appear, the route is a nameless choice, labels are human.
  await page.locator('#chart g.state.collapsed[data-path="history"]').click();
  await page.locator('#chart[data-drawn="support/tickets/ticket-42|plain|history"] g.state[data-path="history.retrying"]').waitFor();
  await expect(page.locator('#chart g.state.choice[data-path="history.route"]').count()).resolves.toBe(1);
  // A task's result (`troupe.task.done.run:history`) is drawn, as "done"; the runtime's bookkeeping is not.
  const events = (await page.locator('#chart path.edge').evaluateAll((paths) => paths.map((p) => p.getAttribute('data-event') ?? ''))).flatMap((e) => e.split(' '));
  expect(events).toContain('troupe.task.done.run:history');
  expect(events.filter((e) => e.startsWith('troupe.') && !e.startsWith('troupe.task.'))).toEqual([]);
  const labels = await page.locator('#chart text.edge-label').allTextContents();
  expect(labels).toEqual(expect.arrayContaining(['retry', 'escalate', 'backoff over']));
  expect(labels.filter((l) => l.startsWith('troupe.') || l.startsWith('xstate.'))).toEqual([]);
  const opened = await chartBoxes(page);
  expectInside(opened.content, opened.panel);
  await page.screenshot({ path: artifact('inspector-chart-step-open.png'), scale: 'css', clip: opened.panel });

  // The toggle shows the runtime's own transitions, by their raw names, and the route by name.
  await page.locator('#show-internal').check();
  await page.locator('#chart[data-drawn="support/tickets/ticket-42|internal|history"] path.edge.internal[data-event="troupe.answer.breaker.history"]').waitFor();
  await expect(page.locator('#chart g.state:not(.choice)[data-path="history.route"]').count()).resolves.toBe(1);
  await page.locator('#show-internal').uncheck();
  await page.locator('#chart[data-drawn="support/tickets/ticket-42|plain|history"]').waitFor();
  await expect(page.locator('#chart path.edge.internal').count()).resolves.toBe(0);

  // Clicking the open step's name closes it again.
  await page.locator('#chart g.state.step.expanded[data-path="history"] text.toggle').click();
  await page.locator('#chart[data-drawn="support/tickets/ticket-42|plain|"] g.state.collapsed[data-path="history"]').waitFor();
}, 60_000);

test('the workflow list filters by status and searches by id', async () => {
  const listed = () => page.locator('#workflows li.wf').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-address')));
  expect(await listed()).toEqual(['support/tickets/ticket-42', 'support/tickets/ticket-43']);
  await page.locator('#workflow-status-filter').selectOption('aborted');
  await page.waitForFunction(() => document.querySelectorAll('#workflows li.wf').length === 1);
  expect(await listed()).toEqual(['support/tickets/ticket-43']);
  await page.locator('#workflow-status-filter').selectOption('running');
  await page.locator('#workflows .empty', { hasText: 'No workflow matches' }).waitFor();
  await page.locator('#workflow-status-filter').selectOption('');
  await page.locator('#workflow-search').fill('42');
  await page.waitForFunction(() => document.querySelectorAll('#workflows li.wf').length === 1);
  expect(await listed()).toEqual(['support/tickets/ticket-42']);
  await expect(page.locator('#workflow-count').textContent()).resolves.toBe('1 of 2');
  await page.locator('#workflow-search').fill('');
  await page.waitForFunction(() => document.querySelectorAll('#workflows li.wf').length === 2);
  // Each row says when the run started and how long it took; newest first orders by start (ticket-43 started later).
  const started = await page.locator('#workflows li.wf .started').evaluateAll((spans) => spans.map((s) => Number(s.getAttribute('data-at'))));
  expect(started).toHaveLength(2);
  expect(await page.locator('#workflows li.wf .duration').first().textContent()).toMatch(/\d+(\.\d)? (ms|s)$/);
  await page.locator('#workflow-sort').selectOption('started');
  const newestFirst = started[1]! > started[0]! ? ['support/tickets/ticket-43', 'support/tickets/ticket-42'] : ['support/tickets/ticket-42', 'support/tickets/ticket-43'];
  await page.waitForFunction((order) => Array.from(document.querySelectorAll("#workflows li.wf")).map((r) => r.getAttribute("data-address")).join() === order.join(), newestFirst);
  await page.locator('#workflow-sort').selectOption('id');
  await page.waitForFunction(() => document.querySelectorAll('#workflows li.wf')[0]?.getAttribute('data-address') === 'support/tickets/ticket-42');
});

test('a page opened after the workflows finished lists them with their traces and the log; a reload keeps it', async () => {
  const openedAt = Date.now();
  const late = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  try {
    await late.goto(inspector.url);
    await late.locator('#connection', { hasText: 'live' }).waitFor();
    await late.locator(`${workflow('ticket-43')}[data-status="aborted"]`).waitFor();
    await late.locator(`${workflow('ticket-42')}[data-status="completed"]`).waitFor();
    // The log holds what happened before this page existed, at the events' own times.
    const compensating = late.locator('#log tr[data-type="workflow.compensating"]');
    await compensating.first().waitFor();
    expect(Number(await compensating.first().getAttribute('data-at'))).toBeLessThan(openedAt);
    await expect(late.locator('#log tr[data-type="rt.actor.spawned"]').count()).resolves.toBeGreaterThanOrEqual(2);
    await late.locator(workflow('ticket-43')).click();
    await late.locator('#timeline tr[data-kind="compensation"][data-outcome="succeeded"]').first().waitFor();

    await late.reload();
    await late.locator('#connection', { hasText: 'live' }).waitFor();
    await late.locator('#log tr[data-type="workflow.compensating"]').first().waitFor();
    await late.locator(`${workflow('ticket-43')}[data-status="aborted"]`).waitFor();
    await late.screenshot({ path: artifact('inspector-late-page.png'), scale: 'css', clip: { x: 0, y: 0, width: 1500, height: 700 } });
  } finally {
    await late.close();
  }
  expect(inspector.stats().history.records).toBeGreaterThan(0);
}, 60_000);

test("an outside app's #id.path target is drawn as an edge, with its initial state marked", async () => {
  const config = {
    id: 'checkout', initial: 'cart',
    states: {
      cart: { on: { CHECKOUT: 'payment', ADD: 'cart' } },
      payment: { initial: 'card', states: { card: { on: { CANCEL: '#checkout.cancelled' } } } },
      cancelled: { type: 'final' },
    },
  };
  const app = new WebSocket(inspector.statelyUrl);
  await new Promise<void>((resolve, reject) => (app.once('open', () => resolve()), app.once('error', reject)));
  try {
    app.send(JSON.stringify({ type: '@xstate.actor', name: 'checkout', sessionId: 'x:0', rootId: 'x:0', createdAt: String(Date.now()), id: '1', _version: '0.4.0', definition: JSON.stringify(config), snapshot: { status: 'active', value: { payment: 'card' } } }));
    const row = page.locator('#tree li[data-address="ext-1:x:0"]');
    await row.waitFor();
    await row.click();
    // (A straight edge has an empty box, which Playwright calls hidden: wait for it to be there.)
    await page.locator('#chart path.edge[data-source="payment.card"][data-target="cancelled"]').waitFor({ state: 'attached' });
    await expect(page.locator('#chart g.state.active[data-path="payment.card"]').count()).resolves.toBe(1);
    await expect(page.locator('#chart circle.initial[data-initial-of=""]').count()).resolves.toBe(1);
    await expect(page.locator('#chart path.edge.loop[data-source="cart"]').count()).resolves.toBe(1);
    const boxes = await chartBoxes(page);
    expectInside(boxes.content, boxes.panel);
    await page.screenshot({ path: artifact('inspector-outside-app.png'), scale: 'css', clip: boxes.panel });

    // Issue 14: its child actor nests under it, named; when the app disconnects both show stopped, and can be cleared.
    app.send(JSON.stringify({ type: '@xstate.actor', name: 'x:1', sessionId: 'x:1', parentId: 'x:0', rootId: 'x:0', createdAt: String(Date.now()), id: '2', _version: '0.4.0', definition: JSON.stringify({ id: 'paymentGateway', initial: 'idle', states: { idle: {} } }), snapshot: { status: 'active', value: 'idle' } }));
    const child = page.locator('#tree li[data-address="ext-1:x:0"] > ul > li[data-address="ext-1:x:1"]');
    await child.waitFor();
    expect(await child.locator('.name').first().textContent()).toBe('paymentGateway');
    expect(await row.locator('.name').first().textContent()).toBe('checkout');
    app.close();
    await page.locator('#tree li[data-address="ext-1:x:0"][data-status="stopped"]').waitFor();
    await page.locator('#tree li[data-address="ext-1:x:1"][data-status="stopped"]').waitFor();
    await page.locator('#clear-stopped-apps').click();
    await page.locator('#tree li[data-address="ext-1:x:0"]').waitFor({ state: 'detached' });
    await page.reload();
    await page.locator('#connection', { hasText: 'live' }).waitFor();
    await page.locator('#tree li[data-address="support/services/escrow"]').waitFor();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await expect(page.locator('#tree li[data-address="ext-1:x:0"]').count()).resolves.toBe(0); // cleared stays cleared
  } finally {
    app.close();
  }
});

test('a pool shows its holders, its queue and how long the longest waiter has waited (issue 11)', async () => {
  const gpu = scenario.system.spawn(scenario.system.register('gpu-pool', pool), { id: 'gpu', input: { capacity: 1 } });
  gpu.tell({ type: 'pool.acquire', requestId: 'r1', replyTo: 'support/tickets/ticket-42' });
  gpu.tell({ type: 'pool.acquire', requestId: 'r2', replyTo: 'support/tickets/ticket-43' });
  const row = page.locator('#pools li.pool[data-address="support/gpu"]');
  await page.locator('#pools li.pool[data-address="support/gpu"][data-held="1"][data-queued="1"]').waitFor();
  expect(await row.textContent()).toMatch(/gpu 1\/1 held · 1 waiting · longest \d/);
  expect(await row.getAttribute('title')).toBe('held by support/tickets/ticket-42');
  gpu.tell({ type: 'pool.release', requestId: 'r1' });
  await page.locator('#pools li.pool[data-address="support/gpu"][data-held="1"][data-queued="0"]').waitFor();
  expect(await row.getAttribute('title')).toBe('held by support/tickets/ticket-43');
  await gpu.stop();
});
