/**
 * The inspector end to end in real headless Chromium (issue 5): the demo system and the inspector, the page
 * opened with its token; the workflow's active state changes live, the timeline shows a retry and a
 * compensation, a person approves the escrow item in the UI, and the workflow completes.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createSupportScenario, type SupportScenario } from '../../examples/support-workflow.js';
import { startInspector, type Inspector } from '../../inspector/index.js';
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
  await expect(page.locator('#tree li[data-address="support/services/escrow"]').count()).resolves.toBe(1);
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
  // The chart is drawn (elkjs loaded lazily) with the active state highlighted, following the run live.
  await page.locator('#chart svg.chart g.state.leaf.active[data-path="active.assess.sentiment.escalated"]').waitFor({ timeout: 20_000 });
  expect(await page.locator('#chart svg.chart').getAttribute('data-active')).toBe('active.assess.sentiment.escalated,active.assess.inventory.done');
  const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
  expect(seen.some((v) => v.startsWith('active.history.'))).toBe(true);
  expect(seen.at(-1)).toBe('active.assess.(sentiment.escalated | inventory.done)');
  await page.screenshot({ path: artifact('inspector-escalated.png'), scale: 'css' });

  // The timeline shows the CRM retries with their backoff.
  await expect(page.locator('#timeline tr[data-step="history"][data-outcome="retrying"]').count()).resolves.toBe(2);
  expect(await page.locator('#timeline tr[data-step="history"][data-outcome="retrying"] .detail').first().textContent()).toMatch(/backoff \d+ ms/);

  // The escrow item waits with an SLA countdown; a person approves it in the UI.
  const item = page.locator('#escrow-queue .item[data-item-id="ticket-42/sentiment/1"], .escrow-list .item[data-item-id="ticket-42/sentiment/1"]');
  await item.waitFor();
  expect(await item.locator('.sla').textContent()).toMatch(/^SLA \d+:\d\d$/);
  await item.locator('button[data-decision="approve"]').click();
  await page.locator('#workflow-status', { hasText: 'completed' }).waitFor({ timeout: 20_000 });
  await page.locator('#chart svg.chart g.state.leaf.active[data-path="completed"]').waitFor();
  await expect(item.count()).resolves.toBe(0);
  await expect(page.locator('#timeline tr[data-kind="escrow"][data-outcome="approved"]').count()).resolves.toBe(1);
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
  await page.screenshot({ path: artifact('inspector-compensated.png'), scale: 'css' });
}, 60_000);
