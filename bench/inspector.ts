/**
 * Group `inspector` (issue 5): the cost of watching a system.
 * - `inspector.tell_with_vs_without`: tell throughput (timed until the last message is handled) with the
 *   inspector attached (its history ring recording, issue 14) and a WebSocket client connected that parses every
 *   batch, over the same with no inspector (the bus is detached), same system, A/B alternating rounds, median
 *   ratio. Goal >= 0.8. Each candidate round starts its own inspector, outside the timing: the history ring
 *   attaches the bus from the inspector's start, so one inspector for all rounds would inspect the baseline too.
 * - `inspector.drop_rate`: records dropped / records produced for that client over the candidate rounds
 *   (delivered + dropped must equal produced, checked). Goal <= 0.05.
 * - `inspector.history_bytes_per_workflow` (issue 14): what the history ring keeps per finished six-step workflow
 *   (its records as JSON), with a ring large enough to keep all of them (reported).
 * - `inspector.first_paint_ms` (issue 14): from opening the page (headless Chromium) to the demo workflow's chart
 *   drawn and fitted — the page loads, connects, lists the workflow, and it is selected — median of 5 (reported).
 */
import { WebSocket } from 'ws';
import { assign, setup } from 'xstate';
import { reply } from '../machines/emit.js';
import { step, workflow } from '../machines/index.js';
import { createSystem, type ActorRef, type BatchMessage } from '../src/index.js';
import { startInspector, type Inspector } from '../inspector/index.js';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { createSupportScenario } from '../examples/support-workflow.js';
import { median, nowMs, paired, report } from './harness.js';

const counter = setup({
  types: { context: {} as { count: number }, events: {} as { type: 'inc' } | { type: 'get' } },
}).createMachine({
  context: { count: 0 },
  on: { inc: { actions: assign({ count: ({ context }) => context.count + 1 }) }, get: { actions: reply(({ context }) => context.count) } },
});

const MESSAGES = 200_000;

async function tellRound(ref: ActorRef<typeof counter>): Promise<number> {
  const before = await ref.ask<number>({ type: 'get' }, { timeoutMs: 60_000 });
  const start = nowMs();
  for (let i = 0; i < MESSAGES; i++) ref.tell({ type: 'inc' });
  const count = await ref.ask<number>({ type: 'get' }, { timeoutMs: 60_000 });
  const elapsed = nowMs() - start;
  if (count !== before + MESSAGES) throw new Error(`lost messages: ${count - before} of ${MESSAGES}`);
  return elapsed;
}

interface Client {
  readonly ws: WebSocket;
  records: number;
}

async function connect(inspector: Inspector): Promise<Client> {
  const client: Client = { ws: new WebSocket(`ws://127.0.0.1:${inspector.port}/ws?token=${inspector.token}`, { origin: `http://127.0.0.1:${inspector.port}` }), records: 0 };
  client.ws.on('message', (data) => {
    const message = JSON.parse(data.toString()) as BatchMessage | { t: string };
    if (message.t === 'batch') client.records += (message as BatchMessage).records.length;
  });
  await new Promise<void>((resolve, reject) => (client.ws.once('open', () => resolve()), client.ws.once('error', reject)));
  return client;
}

export async function run(): Promise<void> {
  const system = await createSystem({ name: 'benchinspect', logLevel: 'silent' });
  system.register('counter', counter);
  const ref = system.spawn<typeof counter>('counter', { id: 'c', mailboxCapacity: MESSAGES + 10 });
  let produced = 0;
  let delivered = 0;
  let dropped = 0;

  const result = await paired({
    warmup: 1,
    rounds: 7,
    baseline: () => tellRound(ref),
    candidate: async () => {
      const inspector = await startInspector({ system });
      const client = await connect(inspector);
      const elapsed = await tellRound(ref);
      // Outside the timing: let the client take everything delivered, then read the books.
      inspector.bus.flush();
      const channel = () => inspector.stats().clients.find((c) => c.produced > 0) ?? inspector.stats().clients[0]!;
      for (let i = 0; i < 10_000 && client.records < channel().delivered; i++) await new Promise((resolve) => setTimeout(resolve, 1));
      const books = channel();
      if (books.delivered + books.dropped !== books.produced) throw new Error(`inspector books do not balance: ${JSON.stringify(books)}`);
      produced += books.produced;
      delivered += books.delivered;
      dropped += books.dropped;
      client.ws.close();
      await new Promise((resolve) => client.ws.once('close', resolve));
      await inspector.close();
      return elapsed;
    },
  });
  report('inspector', 'tell_with_vs_without', result.speedRatio, 'ratio');
  if (produced !== delivered + dropped) throw new Error('delivered + dropped != produced');
  report('inspector', 'drop_rate', produced === 0 ? 0 : dropped / produced, 'ratio');
  await system.shutdown();
  report('inspector', 'history_bytes_per_workflow', await historyBytesPerWorkflow(), 'B');
  report('inspector', 'first_paint_ms', await firstPaintMs(), 'ms');
}

/** Page open to the demo workflow's chart drawn and fitted (its `data-scale` set), median of 5 fresh pages. */
async function firstPaintMs(): Promise<number> {
  const executablePath = process.env['CHROMIUM_BIN'] ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) throw new Error(`Chromium not found at ${executablePath}: install Debian's chromium or set CHROMIUM_BIN`);
  const scenario = await createSupportScenario({ latencyMs: 20 });
  const inspector = await startInspector({ system: scenario.system });
  const browser = await chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  try {
    scenario.startDemoTickets();
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
      const start = nowMs();
      await page.goto(inspector.url);
      await page.locator('#workflows li[data-address="support/tickets/ticket-42"]').click();
      await page.locator('#chart[data-drawn^="support/tickets/ticket-42|"] svg.chart[data-scale]').waitFor();
      if (i > 0) times.push(nowMs() - start); // the first page warms the browser and the server's bundle cache
      await page.close();
    }
    return median(times);
  } finally {
    await browser.close();
    await inspector.close();
    await scenario.system.shutdown({ timeoutMs: 2_000 });
  }
}

/** Runs six-step workflows with an inspector whose ring keeps everything; its bytes per workflow. */
async function historyBytesPerWorkflow(): Promise<number> {
  const WORKFLOWS = 200;
  const system = await createSystem({ name: 'benchhistory', logLevel: 'silent' });
  const inspector = await startInspector({ system, history: { maxRecords: 10_000_000, maxBytes: 1024 * 1024 * 1024 } });
  try {
    const steps = ['history', 'sentiment', 'inventory', 'draft', 'validate', 'send'].map((id) => step(id, async () => ({ ok: true, id })));
    system.register('reply', workflow('reply', { steps }));
    const before = inspector.stats().history.bytes;
    for (let i = 0; i < WORKFLOWS; i++) await system.spawn('reply', { id: `w${i}` }).result();
    inspector.bus.flush();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const stats = inspector.stats().history;
    if (stats.evicted > 0 || stats.lost > 0) throw new Error(`the history ring dropped records: ${JSON.stringify(stats)}`);
    return (stats.bytes - before) / WORKFLOWS;
  } finally {
    await inspector.close();
    await system.shutdown();
  }
}
