/**
 * The Troupe inspector UI (issue 5): plain TypeScript and SVG, bundled by esbuild, served by the inspector
 * itself (no CDN, works offline). It imports only the wire types from the runtime.
 */
import type { ClientMessage, ServerMessage, WireSnapshot } from '../../src/inspection/wire.js';
import { h, replace, valueText } from './dom.js';
import { highlight, layout, renderChart } from './chart.js';
import { modelFromConfig, modelFromDefinition, viewOf, type ChartModel } from './chart-model.js';
import { PanZoom } from './pan-zoom.js';
import { EscrowView } from './escrow-view.js';
import { kindOf, WORKFLOW_FILTERS, workflowStatus } from './kinds.js';
import { Store, type LogEntry } from './store.js';
import { renderTimeline, type WorkflowContextView } from './timeline.js';
import { renderBreakers, renderLog, renderPools, renderTree, renderWorkflows, type LogFilter, type WorkflowFilter } from './views.js';
import './styles.css';

const store = new Store();
let socket: WebSocket | undefined;
let selected: string | undefined;
let nextRequest = 0;
const pending = new Map<string, (reply: { ok: boolean; error?: string }) => void>();
const workflowFilter: WorkflowFilter = { text: '', status: '', sort: 'id' };
const filter: LogFilter = { text: '', categories: new Set<LogEntry['category']>(['runtime', 'event', 'trace', 'microstep']) };

// The token reached us in the URL; the server set a cookie, so take it out of the address bar and history.
if (location.search.includes('token=')) history.replaceState(null, '', location.pathname);

const el = {
  status: h('span', { class: 'conn', id: 'connection' }, 'connecting…'),
  counts: h('span', { class: 'counts', id: 'counts' }),
  tree: h('div', { class: 'panel-body', id: 'tree' }),
  workflows: h('div', { class: 'panel-body', id: 'workflows' }),
  breakers: h('div', { class: 'panel-body', id: 'breakers' }),
  pools: h('div', { class: 'panel-body', id: 'pools' }),
  actorHead: h('div', { class: 'actor-head', id: 'actor' }),
  chart: h('div', { class: 'chart-box', id: 'chart' }),
  context: h('pre', { class: 'context', id: 'context' }),
  timeline: h('div', { class: 'panel-body', id: 'timeline' }),
  log: h('div', { class: 'panel-body log-box', id: 'log' }),
};
const panZoom = new PanZoom(el.chart);
/** What the chart shows: internal transitions (for everyone), open steps (per selected actor). */
const chartView = { showInternal: false, expanded: new Set<string>() };

function chartTools(): HTMLElement {
  const button = (id: string, text: string, title: string, action: () => void) => {
    const b = h('button', { type: 'button', id, title }, text);
    b.addEventListener('click', action);
    return b;
  };
  const internal = h('input', { type: 'checkbox', id: 'show-internal' });
  internal.addEventListener('change', () => {
    chartView.showInternal = internal.checked;
    redrawChart();
  });
  return h('div', { class: 'chart-tools' },
    button('zoom-in', '+', 'Zoom in (+)', () => panZoom.zoom(1.25)), button('zoom-out', '−', 'Zoom out (-)', () => panZoom.zoom(0.8)),
    button('zoom-fit', 'fit', 'Fit the chart to the panel (0)', () => panZoom.fit()),
    h('label', { class: 'cat', title: 'Runtime bookkeeping: ask answers, restored timers, the route choice by name' }, internal, 'internal transitions'));
}

const escrow = new EscrowView(store, (request) => ask({ ...request, requestId: '' } as ClientMessage), (address) => select(address));

function panel(title: string, body: HTMLElement, ...tools: HTMLElement[]): HTMLElement {
  return h('section', { class: 'panel' }, h('h2', {}, title, ...tools), body);
}

function workflowTools(): HTMLElement {
  const search = h('input', { type: 'search', placeholder: 'search id', id: 'workflow-search', class: 'log-filter' });
  search.addEventListener('input', () => ((workflowFilter.text = search.value), store.version++));
  const status = h('select', { id: 'workflow-status-filter', title: 'Show workflows with this status' },
    h('option', { value: '' }, 'all'), ...WORKFLOW_FILTERS.map(([value, label]) => h('option', { value }, label)));
  status.addEventListener('change', () => ((workflowFilter.status = status.value), store.version++));
  const sort = h('select', { id: 'workflow-sort', title: 'Order the workflows' }, h('option', { value: 'id' }, 'by id'), h('option', { value: 'started' }, 'newest first'));
  sort.addEventListener('change', () => ((workflowFilter.sort = sort.value === 'started' ? 'started' : 'id'), store.version++));
  return h('span', { class: 'tools' }, status, sort, search);
}

function logTools(): HTMLElement {
  const input = h('input', { type: 'search', placeholder: 'filter', class: 'log-filter' });
  input.addEventListener('input', () => ((filter.text = input.value), (store.version++)));
  const boxes = (['runtime', 'event', 'trace', 'snapshot', 'microstep', 'action'] as const).map((c) => {
    const box = h('input', { type: 'checkbox', 'data-category': c, checked: filter.categories.has(c) });
    box.addEventListener('change', () => ((box.checked ? filter.categories.add(c) : filter.categories.delete(c)), store.version++));
    return h('label', { class: 'cat' }, box, c);
  });
  return h('span', { class: 'tools' }, ...boxes, input);
}

replace(document.getElementById('app')!,
  h('header', {}, h('h1', {}, 'Troupe inspector'), h('span', { class: 'system', id: 'system' }), el.status, el.counts),
  h('main', {},
    h('div', { class: 'col left' }, panel('Supervision tree', el.tree), panel('Workflows', el.workflows, workflowTools()), panel('Circuit breakers', el.breakers), panel('Pools', el.pools)),
    h('div', { class: 'col center' }, h('section', { class: 'panel' }, el.actorHead, h('div', { id: 'time-travel', class: 'time-travel', hidden: true }), chartTools(), el.chart, h('details', {}, h('summary', {}, 'context'), el.context)), panel('Workflow timeline', el.timeline)),
    h('div', { class: 'col right' }, panel('Escrow: waiting for a person', escrow.el))),
  h('footer', {}, panel('Event log', el.log, logTools())));

function ask(message: ClientMessage): Promise<{ ok: boolean; error?: string }> {
  const requestId = `r${++nextRequest}`;
  return new Promise((resolve) => {
    if (!socket || socket.readyState !== WebSocket.OPEN) return resolve({ ok: false, error: 'not connected' });
    pending.set(requestId, resolve);
    socket.send(JSON.stringify({ ...message, requestId }));
  });
}

function connect(): void {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  socket = ws;
  ws.addEventListener('open', () => {
    store.connected = true;
    store.version++;
    void ask({ t: 'finished', requestId: '' }); // durable runs that finished before the history (issue 14)
  });
  ws.addEventListener('close', () => {
    store.connected = false;
    store.version++;
    setTimeout(connect, 1_000);
  });
  ws.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as ServerMessage;
    if (message.t === 'reply') {
      pending.get(message.requestId)?.(message);
      pending.delete(message.requestId);
      return;
    }
    store.apply(message);
  });
}

function select(address: string): void {
  if (travel !== undefined && travel.address !== address) travel = undefined;
  if (selected === address) return;
  if (selected && store.inspected.has(selected)) void ask({ t: 'inspect', requestId: '', address: selected, on: false });
  selected = address;
  chartFor = undefined;
  chartView.expanded.clear();
  store.version++;
}

// ---- the selected actor ---------------------------------------------------------------------------

let chartFor: string | undefined;
let chartSvg: SVGSVGElement | undefined;

function renderActor(): void {
  const live = selected ? store.actors.get(selected) : undefined;
  // Travelling, the head, context and chart show the recorded snapshot; everything else stays live.
  const past = live !== undefined && travel?.address === live.address ? travel : undefined;
  const actor = live && past ? { ...live, snapshot: past.snapshot } : live;
  const banner = document.getElementById('time-travel');
  if (past) {
    const back = h('button', { type: 'button', id: 'back-to-live' }, 'back to live');
    back.addEventListener('click', () => ((travel = undefined), store.version++));
    replace(banner!, `Showing ${new Date(past.at).toISOString().slice(11, 23)}, as recorded `, back);
    banner!.hidden = false;
  } else {
    banner!.hidden = true;
  }
  if (!actor) {
    replace(el.actorHead, h('div', { class: 'empty' }, 'Select an actor in the tree or a workflow to see its statechart.'));
    return;
  }
  const full = store.inspected.has(actor.address);
  const toggle = h('button', { type: 'button', id: 'full-inspection', title: 'Full XState inspection (events, microsteps): costs throughput on this actor' }, full ? 'Full inspection: on' : 'Full inspection: off');
  toggle.addEventListener('click', async () => {
    const on = !store.inspected.has(actor.address);
    const answer = await ask({ t: 'inspect', requestId: '', address: actor.address, on });
    if (answer.ok) (on ? store.inspected.add(actor.address) : store.inspected.delete(actor.address), store.version++);
  });
  const kind = kindOf(actor.snapshot);
  replace(el.actorHead,
    h('h2', {}, actor.address, ' ', h('span', { class: 'logic' }, actor.logic), ' ', h('span', { class: `badge st-${actor.snapshot.status ?? ''}`, id: 'actor-status' }, String(actor.snapshot.status ?? '?')),
      kind === 'workflow' ? h('span', { class: `badge s-${workflowStatus(actor.snapshot)}` }, workflowStatus(actor.snapshot)) : null, actor.finished ? h('span', { class: 'badge' }, 'finished') : null),
    h('div', { class: 'state-line' }, 'state: ', h('code', { id: 'active-value' }, valueText(actor.snapshot.value)), ' ', actor.external || actor.finished ? null : toggle));
  el.context.textContent = JSON.stringify(actor.snapshot.context ?? null, null, 2).slice(0, 20_000);
  if (chartFor !== actor.address) void drawChart(actor.address);
  else if (chartSvg) show(chartSvg, actor);
}

function show(svg: SVGSVGElement, actor: { snapshot: { value?: unknown; context?: unknown } } | undefined): void {
  highlight(svg, actor?.snapshot.value, actor?.snapshot.context);
}

/** Draws the selected actor's chart again (the view changed: a step opened or closed, internal transitions). */
function redrawChart(): void {
  if (selected !== undefined) void drawChart(selected);
}

function toggleStep(path: string): void {
  if (chartView.expanded.has(path)) chartView.expanded.delete(path);
  else chartView.expanded.add(path);
  redrawChart();
}

const models = new Map<string, ChartModel>();

let drawSeq = 0;

async function drawChart(address: string): Promise<void> {
  chartFor = address;
  const seq = ++drawSeq;
  const actor = store.actors.get(address);
  if (!actor) return;
  let key = store.definitionKeys.get(address);
  if (actor.config) {
    key = `ext:${actor.logic}:${hash(actor.config)}`;
    if (!models.has(key)) models.set(key, modelFromConfig(actor.config));
  } else {
    if (key === undefined) {
      chartSvg = undefined;
      replace(el.chart, h('div', { class: 'empty' }, 'loading the statechart…'));
      const answer = await ask({ t: 'definition', requestId: '', address });
      key = store.definitionKeys.get(address);
      if (!answer.ok || key === undefined) return void replace(el.chart, h('div', { class: 'empty' }, 'No statechart for this actor.'));
    }
    const definition = store.definitions.get(key);
    if (typeof definition !== 'object' || definition === null) return void replace(el.chart, h('div', { class: 'empty' }, 'No statechart for this actor.'));
    if (!models.has(key)) models.set(key, modelFromDefinition(definition));
  }
  const view = { showInternal: chartView.showInternal, expanded: new Set(chartView.expanded) };
  const vm = viewOf(models.get(key)!, view);
  const laid = await layout(`${key}|${view.showInternal ? 1 : 0}|${[...view.expanded].sort().join(',')}`, vm);
  if (chartFor !== address || seq !== drawSeq) return;
  chartSvg = renderChart(laid, vm, { toggleStep });
  replace(el.chart, chartSvg);
  panZoom.attach(chartSvg);
  show(chartSvg, store.actors.get(address));
  el.chart.dataset['drawn'] = `${address}|${view.showInternal ? 'internal' : 'plain'}|${[...view.expanded].sort().join(',')}`;
}

/** A short content hash (FNV-1a) for caching an outside app's chart by its config. */
function hash(text: string): string {
  let h32 = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h32 = Math.imul(h32 ^ text.charCodeAt(i), 0x01000193);
  return (h32 >>> 0).toString(36);
}

// ---- render loop ----------------------------------------------------------------------------------

let drawn = -1;
let lastDraw = 0;

function render(): void {
  requestAnimationFrame(render);
  if (store.version === drawn || performance.now() - lastDraw < 150) return;
  drawn = store.version;
  lastDraw = performance.now();
  document.getElementById('system')!.textContent = store.system;
  el.status.textContent = store.connected ? 'live' : 'disconnected';
  el.status.className = `conn ${store.connected ? 'on' : 'off'}`;
  const totals = [...store.counts.values()].reduce((a, c) => ({ produced: a.produced + c.produced, delivered: a.delivered + c.delivered, dropped: a.dropped + c.dropped }), { produced: 0, delivered: 0, dropped: 0 });
  el.counts.textContent = `records ${totals.delivered} delivered · ${totals.dropped} dropped · resyncs ${store.resyncs}`;
  if (!selected) {
    const first = [...store.actors.values()].find((a) => kindOf(a.snapshot) === 'workflow');
    if (first) selected = first.address;
  }
  replace(el.tree, renderTree(store, selected, select, () => void ask({ t: 'clear-stopped-apps', requestId: '' }).then((answer) => answer.ok && store.clearStoppedApps())));
  replace(el.workflows, renderWorkflows(store, selected, select, workflowFilter));
  replace(el.breakers, renderBreakers(store));
  replace(el.pools, renderPools(store));
  escrow.render();
  renderActor();
  const actor = selected ? store.actors.get(selected) : undefined;
  const workflowId = actor && kindOf(actor.snapshot) === 'workflow' ? String((actor.snapshot.context as { workflowId?: string }).workflowId) : undefined;
  if (workflowId) replace(el.timeline, renderTimeline(workflowId, store.traces.get(workflowId) ?? [], workflowStatus(actor!.snapshot), store.now(), actor!.snapshot?.context as WorkflowContextView | undefined));
  else replace(el.timeline, h('div', { class: 'empty' }, 'Select a workflow to see its timeline.'));
  replace(el.log, renderLog(store, filter, travelTo));
}

/** Time travel (issue 14): the selected actor as a log entry's moment saw it, until "back to live". */
let travel: { readonly address: string; readonly snapshot: WireSnapshot; readonly at: number } | undefined;

function travelTo(entry: LogEntry): void {
  const then = store.snapshotAt(entry.seq, entry.actor);
  if (then === undefined) return;
  select(then.address);
  travel = then;
  store.version++;
}

setInterval(() => {
  escrow.tick();
  store.version++; // breakers' cooldowns and SLA countdowns move with time
}, 1_000);
connect();
requestAnimationFrame(render);
