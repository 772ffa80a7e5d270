/**
 * Statecharts in SVG: a chart view (chart-model.ts) -> laid out by elkjs (loaded lazily, on the first chart;
 * layouts cached per definition and view) -> SVG whose state boxes are keyed by path (`assess.sentiment`), so
 * snapshots only toggle classes and badges, never re-layout. Everything drawn sits in one `g.viewport`, which
 * pan-zoom.ts moves and scales.
 */
import { s } from './dom.js';
import { activeLeaves, activePaths, isDrawnActive, stepBadge, type ChartViewModel, type ViewEdge, type ViewNode } from './chart-model.js';

interface ElkLabel { text: string; width?: number; height?: number; x?: number; y?: number }

interface ElkNode {
  id: string;
  x?: number;
  y?: number;
  width?: number;
  height?: number;
  children?: ElkNode[];
  edges?: ElkEdge[];
  labels?: ElkLabel[];
  layoutOptions?: Record<string, string>;
}

interface ElkEdge {
  id: string;
  sources: string[];
  targets: string[];
  labels?: ElkLabel[];
  sections?: Array<{ startPoint: { x: number; y: number }; endPoint: { x: number; y: number }; bendPoints?: Array<{ x: number; y: number }> }>;
  container?: string;
}

interface Elk {
  layout(graph: ElkNode): Promise<ElkNode>;
}

export type LaidOut = ElkNode;

let elk: Promise<Elk> | undefined;
const layouts = new Map<string, Promise<ElkNode>>();

/** Lays a chart view out (cached by `key`): elkjs is fetched on the first call only. */
export function layout(key: string, vm: ChartViewModel): Promise<LaidOut> {
  let laid = layouts.get(key);
  if (!laid) {
    elk ??= import('elkjs/lib/elk.bundled.js').then((m) => new (m.default as unknown as new () => Elk)());
    laid = elk.then((engine) => engine.layout(toElk(vm)));
    layouts.set(key, laid);
    if (layouts.size > 64) layouts.delete(layouts.keys().next().value as string);
  }
  return laid;
}

const nodeId = (path: string) => `n:${path}`;
const initialId = (path: string) => `i:${path}`;
const LEAF_H = 26;
const STEP_H = 42;
const LOOP_H = 18;
const CHOICE = 16;
const textWidth = (text: string, px = 7) => text.length * px;

function toElk(vm: ChartViewModel): ElkNode {
  const loops = new Set(vm.loops.map((l) => l.source));
  const initials: ElkEdge[] = [];
  const node = (n: ViewNode): ElkNode => {
    if (n.choice) return { id: nodeId(n.path), width: CHOICE, height: CHOICE };
    const loop = loops.has(n.path) ? LOOP_H : 0;
    if (n.collapsed) return { id: nodeId(n.path), width: Math.max(150, textWidth(n.key) + 24), height: STEP_H + loop };
    if (n.children.length === 0) return { id: nodeId(n.path), width: Math.max(56, textWidth(n.key) + 18), height: LEAF_H + loop };
    const children = n.children.map(node);
    if (n.initial !== undefined) {
      children.unshift({ id: initialId(n.path), width: 10, height: 10 });
      initials.push({ id: `init:${n.path}`, sources: [initialId(n.path)], targets: [nodeId(n.initial)] });
    }
    return { id: nodeId(n.path), labels: [{ text: n.key }], layoutOptions: { 'elk.padding': `[top=${24 + loop},left=8,bottom=8,right=8]` }, children };
  };
  return {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered', 'elk.direction': 'RIGHT', 'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.layered.spacing.nodeNodeBetweenLayers': '30', 'elk.spacing.nodeNode': '14', 'elk.spacing.edgeLabel': '2',
      'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES', 'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
    },
    children: [node(vm.root)],
    edges: [
      ...vm.edges.map((e, i) => ({ id: `e${i}`, sources: [nodeId(e.source)], targets: [nodeId(e.target)], labels: [{ text: e.label, width: textWidth(e.label, 5.6) + 4, height: 11 }] })),
      ...initials,
    ],
  };
}

/** Callbacks of a drawn chart. */
export interface ChartHandlers {
  /** A step state was clicked: expand it (collapsed) or collapse it (open). */
  toggleStep(path: string): void;
}

/** The laid-out chart as SVG; state groups carry `data-path`, the root `data-active` (set by `highlight`). */
export function renderChart(laid: LaidOut, vm: ChartViewModel, handlers: ChartHandlers): SVGSVGElement {
  const views = new Map<string, ViewNode>();
  const collect = (n: ViewNode) => (views.set(nodeId(n.path), n), n.children.forEach(collect));
  collect(vm.root);
  const loopsOf = new Map<string, ViewEdge[]>();
  for (const l of vm.loops) loopsOf.set(l.source, [...(loopsOf.get(l.source) ?? []), l]);
  const abs = new Map<string, { x: number; y: number }>([['root', { x: 0, y: 0 }]]);
  const nodes: SVGElement[] = [];
  const extras: SVGElement[] = [];
  const place = (n: ElkNode, ox: number, oy: number): void => {
    const x = ox + (n.x ?? 0);
    const y = oy + (n.y ?? 0);
    abs.set(n.id, { x, y });
    const w = n.width ?? 0;
    const view = views.get(n.id);
    if (n.id.startsWith('i:')) {
      nodes.push(s('circle', { class: 'initial', 'data-initial-of': n.id.slice(2), cx: x + w / 2, cy: y + (n.height ?? 0) / 2, r: 4.5 }));
    } else if (view !== undefined && n.id !== 'root') {
      const loops = loopsOf.get(view.path) ?? [];
      const top = loops.length > 0 && view.children.length === 0 ? y + LOOP_H : y;
      const h = (n.height ?? 0) - (top - y);
      nodes.push(stateGroup(view, x, top, w, h, handlers));
      if (loops.length > 0) extras.push(...loopShape(view.path, loops, x, top, w));
    }
    for (const c of n.children ?? []) place(c, x, y);
  };
  place(laid, 0, 0);
  const edges: SVGElement[] = [];
  for (const e of laid.edges ?? []) {
    const o = abs.get(e.container ?? 'root') ?? { x: 0, y: 0 };
    const model = e.id.startsWith('e') ? vm.edges[Number(e.id.slice(1))] : undefined;
    for (const sec of e.sections ?? []) {
      const pts = [sec.startPoint, ...(sec.bendPoints ?? []), sec.endPoint].map((p) => `${round(o.x + p.x)},${round(o.y + p.y)}`);
      edges.push(s('path', {
        class: `edge${model?.internal ? ' internal' : ''}${model ? '' : ' initial-edge'}`, d: `M${pts.join(' L')}`, 'marker-end': 'url(#arrow)',
        'data-source': model?.source, 'data-target': model?.target, 'data-event': model?.events.join(' '),
      }, model ? s('title', {}, model.events.join(', ') || 'always') : null));
    }
    for (const l of e.labels ?? []) edges.push(s('text', { class: 'edge-label', x: round(o.x + (l.x ?? 0)), y: round(o.y + (l.y ?? 0) + 9) }, l.text));
  }
  const width = Math.ceil(laid.width ?? 400);
  const height = Math.ceil(laid.height ?? 200);
  return s('svg', { class: 'chart', 'data-width': width, 'data-height': height },
    s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto-start-reverse' }, s('path', { d: 'M0,0 L10,5 L0,10 z' }))),
    s('g', { class: 'viewport' }, s('g', { class: 'states' }, ...nodes), s('g', { class: 'edges' }, ...edges, ...extras))) as SVGSVGElement;
}

const round = (v: number) => Math.round(v * 10) / 10;

function stateGroup(view: ViewNode, x: number, y: number, w: number, h: number, handlers: ChartHandlers): SVGElement {
  const kind = view.choice ? 'choice' : view.collapsed ? 'step collapsed' : view.children.length > 0 ? `compound${view.step ? ' step expanded' : ''}` : 'leaf';
  const attrs = { class: `state ${kind} t-${view.type}`, 'data-path': view.path };
  if (view.choice) {
    const cx = x + w / 2;
    const cy = y + h / 2;
    return s('g', attrs, s('path', { d: `M${cx},${y} L${x + w},${cy} L${cx},${y + h} L${x},${cy} z` }), s('title', {}, 'route: the step decides what comes next'));
  }
  if (view.collapsed) {
    const g = s('g', { ...attrs, tabindex: 0, role: 'button', 'aria-label': `step ${view.key}: expand` },
      s('rect', { x, y, width: w, height: h, rx: 8 }),
      s('text', { class: 'name', x: x + w / 2, y: y + 16, 'text-anchor': 'middle' }, view.key),
      s('text', { class: 'sub', x: x + w / 2, y: y + 32, 'text-anchor': 'middle' }, ''),
      s('title', {}, `step ${view.key}: click to show its states`));
    g.addEventListener('click', () => handlers.toggleStep(view.path));
    g.addEventListener('keydown', (e) => (e.key === 'Enter' ? handlers.toggleStep(view.path) : undefined));
    return g;
  }
  const compound = view.children.length > 0;
  const header = s('text', { class: 'name', x: compound ? x + 8 : x + w / 2, y: compound ? y + 16 : y + 17, 'text-anchor': compound ? 'start' : 'middle' }, compound && view.step ? `▾ ${view.key}` : view.key);
  const g = s('g', attrs,
    view.targetless.length > 0 ? s('title', {}, `${view.key} · handles without leaving: ${view.targetless.join(', ')}`) : null,
    s('rect', { x, y, width: w, height: h, rx: compound ? 8 : 13 }),
    view.type === 'final' ? s('rect', { class: 'final-ring', x: x + 3, y: y + 3, width: w - 6, height: h - 6, rx: 10 }) : null,
    header);
  if (compound && view.step) {
    header.classList.add('toggle');
    header.addEventListener('click', () => handlers.toggleStep(view.path));
  }
  return g;
}

/** A loop above the state's top edge, from its right third back to its middle, labelled with every event. */
function loopShape(path: string, loops: readonly ViewEdge[], x: number, y: number, w: number): SVGElement[] {
  const from = x + (w * 2) / 3;
  const to = x + w / 3;
  const label = loops.map((l) => l.label).join(' / ');
  return [
    s('path', { class: 'edge loop', 'data-source': path, 'data-target': path, 'data-event': loops.flatMap((l) => l.events).join(' '), d: `M${round(from)},${y} C${round(from + 10)},${y - LOOP_H} ${round(to - 10)},${y - LOOP_H} ${round(to)},${y}`, 'marker-end': 'url(#arrow)' }),
    s('text', { class: 'edge-label', x: round(x + w / 2), y: y - LOOP_H + 2, 'text-anchor': 'middle' }, label),
  ];
}

/**
 * Marks the active states and fills each collapsed step's badge; `data-active` lists the machine's active
 * leaf paths (whatever is drawn), for people and tests.
 */
export function highlight(svg: SVGSVGElement, value: unknown, context: unknown): void {
  const active = activePaths(value);
  for (const g of Array.from(svg.querySelectorAll<SVGGElement>('g.state'))) {
    const path = g.dataset['path'] ?? '';
    const on = isDrawnActive(path, active);
    g.classList.toggle('active', on);
    if (g.classList.contains('collapsed')) {
      const badge = stepBadge(path, path.slice(path.lastIndexOf('.') + 1), active, context);
      const sub = g.querySelector('text.sub');
      if (sub && sub.textContent !== badge) sub.textContent = badge;
      g.dataset['badge'] = badge;
    }
  }
  svg.dataset['active'] = activeLeaves(value).join(',');
}
