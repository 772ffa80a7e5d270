/**
 * Statecharts in SVG: a machine definition (XState's `machine.definition` JSON, or the raw config an outside
 * app sends) -> a graph of states and transitions -> laid out by elkjs (loaded lazily, on the first chart;
 * layouts cached per definition) -> SVG whose state boxes are keyed by path (`active.assess.sentiment`) so
 * snapshots only toggle classes, never re-layout.
 */
import { s } from './dom.js';

export interface ChartNode {
  readonly path: string;
  readonly key: string;
  readonly type: string;
  readonly children: ChartNode[];
}

export interface ChartEdge {
  readonly source: string;
  readonly target: string;
  readonly label: string;
}

export interface ChartModel {
  readonly root: ChartNode;
  readonly edges: ChartEdge[];
}

type Json = Record<string, unknown>;

/** From XState's `machine.definition` JSON (ids `#id`, transitions listed per state). */
export function modelFromDefinition(def: unknown): ChartModel {
  const idToPath = new Map<string, string>();
  const build = (node: Json, path: string): ChartNode => {
    idToPath.set(String(node['id']), path);
    const states = (node['states'] ?? {}) as Record<string, Json>;
    const children = Object.entries(states).map(([key, child]) => build(child, path === '' ? key : `${path}.${key}`));
    return { path, key: String(node['key'] ?? node['id'] ?? 'machine'), type: String(node['type'] ?? 'atomic'), children };
  };
  const root = build(def as Json, '');
  const edges: ChartEdge[] = [];
  const seen = new Set<string>();
  const visit = (node: Json): void => {
    const transitions = [...((node['transitions'] as Json[] | undefined) ?? []), ...((node['always'] as Json[] | undefined) ?? [])];
    for (const t of transitions) {
      const source = idToPath.get(String(t['source'] ?? '').replace(/^#/, ''));
      for (const target of (t['target'] as string[] | undefined) ?? []) {
        const to = idToPath.get(String(target).replace(/^#/, ''));
        if (source === undefined || to === undefined) continue;
        const label = labelOf(String(t['eventType'] ?? ''));
        const key = `${source}|${to}|${label}`;
        if (!seen.has(key)) {
          seen.add(key);
          edges.push({ source, target: to, label });
        }
      }
    }
    for (const child of Object.values((node['states'] ?? {}) as Record<string, Json>)) visit(child);
  };
  visit(def as Json);
  return { root, edges };
}

/** From a raw machine config (what `@statelyai/inspect` sends): relative, `.child` and `#id` targets. */
export function modelFromConfig(json: string): ChartModel {
  const config = JSON.parse(json) as Json;
  const ids = new Map<string, string>();
  const build = (node: Json, key: string, path: string): ChartNode => {
    if (typeof node['id'] === 'string') ids.set(node['id'], path);
    const states = (node['states'] ?? {}) as Record<string, Json>;
    const children = Object.entries(states).map(([k, child]) => build(child, k, path === '' ? k : `${path}.${k}`));
    const type = typeof node['type'] === 'string' ? node['type'] : children.length > 0 ? 'compound' : 'atomic';
    return { path, key, type, children };
  };
  const root = build(config, String(config['id'] ?? 'machine'), '');
  const edges: ChartEdge[] = [];
  const resolve = (from: string, target: string): string | undefined => {
    if (target.startsWith('#')) return ids.get(target.slice(1));
    if (target.startsWith('.')) return from === '' ? target.slice(1) : `${from}${target}`;
    const parent = from.includes('.') ? from.slice(0, from.lastIndexOf('.')) : '';
    return from === '' ? target : parent === '' ? target : `${parent}.${target}`;
  };
  const add = (from: string, spec: unknown, label: string): void => {
    for (const t of Array.isArray(spec) ? spec : [spec]) {
      const targets = typeof t === 'string' ? [t] : typeof t === 'object' && t !== null ? [(t as Json)['target']].flat() : [];
      for (const target of targets) {
        const to = typeof target === 'string' ? resolve(from, target) : undefined;
        if (to !== undefined) edges.push({ source: from, target: to, label });
      }
    }
  };
  const visit = (node: Json, path: string): void => {
    for (const [event, spec] of Object.entries((node['on'] ?? {}) as Json)) add(path, spec, event);
    if (node['always'] !== undefined) add(path, node['always'], 'always');
    for (const [delay, spec] of Object.entries((node['after'] ?? {}) as Json)) add(path, spec, `after ${delay}`);
    for (const inv of [node['invoke']].flat()) {
      if (typeof inv !== 'object' || inv === null) continue;
      if ((inv as Json)['onDone'] !== undefined) add(path, (inv as Json)['onDone'], 'done');
      if ((inv as Json)['onError'] !== undefined) add(path, (inv as Json)['onError'], 'error');
    }
    if (node['onDone'] !== undefined) add(path, node['onDone'], 'done');
    for (const [key, child] of Object.entries((node['states'] ?? {}) as Record<string, Json>)) visit(child, path === '' ? key : `${path}.${key}`);
  };
  visit(config, '');
  return { root, edges };
}

function labelOf(eventType: string): string {
  if (eventType === '') return 'always';
  if (eventType.startsWith('xstate.after.')) return `after ${eventType.split('.')[2] ?? ''}`;
  if (eventType.startsWith('xstate.done.actor.')) return 'done';
  if (eventType.startsWith('xstate.error.actor.')) return 'error';
  if (eventType.startsWith('xstate.done.state.')) return 'done';
  return eventType;
}

/** Every active state path of a snapshot value, compound ancestors included ('' is the machine). */
export function activePaths(value: unknown): Set<string> {
  const out = new Set<string>(['']);
  const walk = (v: unknown, base: string): void => {
    if (typeof v === 'string') out.add(base === '' ? v : `${base}.${v}`);
    else if (typeof v === 'object' && v !== null) {
      for (const [key, child] of Object.entries(v as Record<string, unknown>)) {
        const path = base === '' ? key : `${base}.${key}`;
        out.add(path);
        walk(child, path);
      }
    }
  };
  walk(value, '');
  return out;
}

// ---- layout ------------------------------------------------------------------------------------

interface ElkNode {
  id: string;
  x?: number;
  y?: number;
  width?: number;
  height?: number;
  children?: ElkNode[];
  edges?: ElkEdge[];
  labels?: Array<{ text: string; width?: number; height?: number; x?: number; y?: number }>;
  layoutOptions?: Record<string, string>;
}

interface ElkEdge {
  id: string;
  sources: string[];
  targets: string[];
  labels?: Array<{ text: string; width: number; height: number; x?: number; y?: number }>;
  sections?: Array<{ startPoint: { x: number; y: number }; endPoint: { x: number; y: number }; bendPoints?: Array<{ x: number; y: number }> }>;
  container?: string;
}

interface Elk {
  layout(graph: ElkNode): Promise<ElkNode>;
}

let elk: Promise<Elk> | undefined;
const layouts = new Map<string, Promise<ElkNode>>();

/** Lays a model out (cached by `key`): elkjs is fetched on the first call only. */
export function layout(key: string, model: ChartModel): Promise<ElkNode> {
  let laid = layouts.get(key);
  if (!laid) {
    elk ??= import('elkjs/lib/elk.bundled.js').then((m) => new (m.default as unknown as new () => Elk)());
    laid = elk.then((engine) => engine.layout(toElk(model)));
    layouts.set(key, laid);
  }
  return laid;
}

const id = (path: string) => `n:${path}`;

function toElk(model: ChartModel): ElkNode {
  const node = (n: ChartNode): ElkNode => {
    const width = Math.max(56, n.key.length * 7 + 18);
    if (n.children.length === 0) return { id: id(n.path), width, height: 26, labels: [{ text: n.key }] };
    return { id: id(n.path), labels: [{ text: n.key }], layoutOptions: { 'elk.padding': '[top=24,left=8,bottom=8,right=8]' }, children: n.children.map(node) };
  };
  return {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered', 'elk.direction': 'RIGHT', 'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.layered.spacing.nodeNodeBetweenLayers': '26', 'elk.spacing.nodeNode': '12', 'elk.spacing.edgeLabel': '2',
    },
    children: [node(model.root)],
    edges: model.edges.map((e, i) => ({ id: `e${i}`, sources: [id(e.source)], targets: [id(e.target)], labels: [{ text: e.label, width: e.label.length * 5.6 + 4, height: 11 }] })),
  };
}

// ---- rendering ---------------------------------------------------------------------------------

/** The laid-out chart as SVG; state groups carry `data-path`, the root `data-active` (set by `highlight`). */
export function renderChart(laid: ElkNode, model: ChartModel): SVGSVGElement {
  const types = new Map<string, string>();
  const collect = (n: ChartNode) => (types.set(id(n.path), n.type), n.children.forEach(collect));
  collect(model.root);
  const abs = new Map<string, { x: number; y: number }>([['root', { x: 0, y: 0 }]]);
  const nodes: SVGElement[] = [];
  const place = (n: ElkNode, ox: number, oy: number): void => {
    const x = ox + (n.x ?? 0);
    const y = oy + (n.y ?? 0);
    abs.set(n.id, { x, y });
    if (n.id !== 'root') {
      const path = n.id.slice(2);
      const compound = (n.children?.length ?? 0) > 0;
      const type = types.get(n.id) ?? 'atomic';
      const label = n.labels?.[0]?.text ?? path;
      nodes.push(s('g', { class: `state ${compound ? 'compound' : 'leaf'} t-${type}`, 'data-path': path },
        s('rect', { x, y, width: n.width ?? 0, height: n.height ?? 0, rx: compound ? 8 : 13 }),
        type === 'final' ? s('rect', { class: 'final-ring', x: x + 3, y: y + 3, width: (n.width ?? 0) - 6, height: (n.height ?? 0) - 6, rx: 10 }) : null,
        s('text', { x: compound ? x + 8 : x + (n.width ?? 0) / 2, y: compound ? y + 16 : y + 17, 'text-anchor': compound ? 'start' : 'middle' }, label)));
    }
    for (const child of n.children ?? []) place(child, x, y);
  };
  place(laid, 0, 0);
  const edges: SVGElement[] = [];
  for (const e of laid.edges ?? []) {
    const o = abs.get(e.container ?? 'root') ?? { x: 0, y: 0 };
    for (const sec of e.sections ?? []) {
      const pts = [sec.startPoint, ...(sec.bendPoints ?? []), sec.endPoint].map((p) => `${o.x + p.x},${o.y + p.y}`);
      edges.push(s('path', { class: 'edge', d: `M${pts.join(' L')}`, 'marker-end': 'url(#arrow)' }));
    }
    for (const l of e.labels ?? []) edges.push(s('text', { class: 'edge-label', x: o.x + (l.x ?? 0), y: o.y + (l.y ?? 0) + 9 }, l.text));
  }
  const width = Math.ceil(laid.width ?? 400);
  const height = Math.ceil(laid.height ?? 200);
  return s('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, width, height },
    s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto-start-reverse' }, s('path', { d: 'M0,0 L10,5 L0,10 z' }))),
    s('g', { class: 'states' }, ...nodes), s('g', { class: 'edges' }, ...edges)) as SVGSVGElement;
}

/** Marks the active states; `data-active` lists the active leaf paths (for people and tests). */
export function highlight(svg: SVGSVGElement, value: unknown): void {
  const active = activePaths(value);
  const leaves: string[] = [];
  for (const g of Array.from(svg.querySelectorAll<SVGGElement>('g.state'))) {
    const path = g.dataset['path'] ?? '';
    const on = active.has(path);
    g.classList.toggle('active', on);
    if (on && g.classList.contains('leaf')) leaves.push(path);
  }
  svg.dataset['active'] = leaves.join(',');
}
