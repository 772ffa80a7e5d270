/**
 * Statechart models, pure data (issue 14): a machine definition (XState's `machine.definition` JSON, or the raw
 * config an outside app sends) -> states and transitions -> the view that is drawn: Troupe's step states
 * collapsed to one node each (expanded on request), runtime-internal transitions (`troupe.*` events) left out
 * unless asked for, the `route` pseudo-state drawn as a nameless choice point, and human labels on the edges.
 * No DOM here, so it is tested in Node.
 */
import { WORKFLOW_STATES } from '../../machines/workflow-states.js';
import { TASK_DONE, TASK_ERROR } from '../../machines/task-events.js';

export interface ChartNode {
  readonly path: string;
  readonly key: string;
  readonly type: string;
  readonly children: ChartNode[];
  /** Path of the initial child, when the state has one. */
  readonly initial?: string;
}

export interface ChartEdge {
  readonly source: string;
  readonly target: string;
  /** The event type as XState names it: '' for eventless (`always`), `xstate.after.<delay>.<path>` for delays. */
  readonly event: string;
}

export interface ChartModel {
  readonly root: ChartNode;
  readonly edges: ChartEdge[];
  /** Transitions without a target (they run actions only), listed per state path. */
  readonly targetless: ReadonlyMap<string, readonly string[]>;
}

/** What the person chose to see. */
export interface ChartView {
  /** Show `troupe.*` transitions and the `route` pseudo-state by name, with raw event names. */
  readonly showInternal: boolean;
  /** Step states drawn open (every other step is one node). */
  readonly expanded: ReadonlySet<string>;
}

export interface ViewNode {
  readonly path: string;
  readonly key: string;
  readonly type: string;
  readonly children: ViewNode[];
  readonly initial?: string;
  /** A Troupe step state (it has a `route` child): collapsible. */
  readonly step: boolean;
  /** A step drawn as one node; its active sub-state is shown as a badge. */
  readonly collapsed: boolean;
  /** The `route` pseudo-state drawn as a nameless choice point. */
  readonly choice: boolean;
  /** Events it handles without leaving (targetless transitions), labelled. */
  readonly targetless: readonly string[];
}

export interface ViewEdge {
  readonly source: string;
  readonly target: string;
  readonly label: string;
  /** The raw event types behind this edge (shown as its tooltip). */
  readonly events: readonly string[];
  readonly internal: boolean;
}

export interface ChartViewModel {
  readonly root: ViewNode;
  /** Edges between different drawn states. */
  readonly edges: ViewEdge[];
  /** Edges from a state back to itself, drawn as loops. */
  readonly loops: ViewEdge[];
}

type Json = Record<string, unknown>;

const child = (path: string, key: string) => (path === '' ? key : `${path}.${key}`);

/** From XState's `machine.definition` JSON (ids `#id`, transitions listed per state, `always` added by the runtime). */
export function modelFromDefinition(def: unknown): ChartModel {
  const idToPath = new Map<string, string>();
  const register = (node: Json, path: string): void => {
    idToPath.set(String(node['id']), path);
    for (const [key, c] of Object.entries((node['states'] ?? {}) as Record<string, Json>)) register(c, child(path, key));
  };
  register(def as Json, '');
  const resolve = (target: string) => resolveId(idToPath, target.replace(/^#/, ''));
  const build = (node: Json, path: string): ChartNode => {
    const states = (node['states'] ?? {}) as Record<string, Json>;
    const children = Object.entries(states).map(([key, c]) => build(c, child(path, key)));
    const initialTarget = ((node['initial'] as Json | undefined)?.['target'] as string[] | undefined)?.[0];
    const initial = initialTarget === undefined ? undefined : resolve(initialTarget);
    return { path, key: String(node['key'] ?? node['id'] ?? 'machine'), type: String(node['type'] ?? 'atomic'), children, ...(initial === undefined || initial === path ? {} : { initial }) };
  };
  const root = build(def as Json, '');
  const edges = new Edges();
  const visit = (node: Json, path: string): void => {
    for (const t of [...((node['transitions'] as Json[] | undefined) ?? []), ...((node['always'] as Json[] | undefined) ?? [])]) {
      const source = resolve(String(t['source'] ?? '')) ?? path;
      const event = String(t['eventType'] ?? '');
      const targets = (t['target'] as string[] | undefined) ?? [];
      if (targets.length === 0) edges.targetless(source, event);
      for (const target of targets) {
        const to = resolve(String(target));
        if (to !== undefined) edges.add(source, to, event);
      }
    }
    for (const [key, c] of Object.entries((node['states'] ?? {}) as Record<string, Json>)) visit(c, child(path, key));
  };
  visit(def as Json, '');
  return { root, edges: edges.list, targetless: edges.without };
}

/**
 * From a raw machine config (what `@statelyai/inspect` sends): relative targets, `.child`, `#id` and
 * `#id.path` (the `#checkout.cancelled` idiom: a path below the state whose id is `checkout`).
 */
export function modelFromConfig(json: string): ChartModel {
  const config = JSON.parse(json) as Json;
  const ids = new Map<string, string>();
  const build = (node: Json, key: string, path: string): ChartNode => {
    if (typeof node['id'] === 'string') ids.set(node['id'], path);
    const states = (node['states'] ?? {}) as Record<string, Json>;
    const children = Object.entries(states).map(([k, c]) => build(c, k, child(path, k)));
    const type = typeof node['type'] === 'string' ? node['type'] : children.length > 0 ? 'compound' : 'atomic';
    const initial = typeof node['initial'] === 'string' && node['initial'] in states ? child(path, node['initial']) : undefined;
    return { path, key, type, children, ...(initial === undefined ? {} : { initial }) };
  };
  const root = build(config, String(config['id'] ?? 'machine'), '');
  const paths = new Set<string>();
  const collect = (n: ChartNode) => (paths.add(n.path), n.children.forEach(collect));
  collect(root);
  const resolve = (from: string, target: string): string | undefined => {
    if (target.startsWith('#')) return resolveId(ids, target.slice(1), paths);
    if (target.startsWith('.')) return child(from, target.slice(1));
    const parent = from.includes('.') ? from.slice(0, from.lastIndexOf('.')) : '';
    return from === '' ? target : child(parent, target);
  };
  const edges = new Edges();
  const add = (from: string, spec: unknown, event: string): void => {
    for (const t of Array.isArray(spec) ? spec : [spec]) {
      const targets = typeof t === 'string' ? [t] : typeof t === 'object' && t !== null ? [(t as Json)['target']].flat().filter((x) => x !== undefined) : [];
      if (targets.length === 0) edges.targetless(from, event);
      for (const target of targets) {
        const to = typeof target === 'string' ? resolve(from, target) : undefined;
        if (to !== undefined && paths.has(to)) edges.add(from, to, event);
      }
    }
  };
  const visit = (node: Json, path: string): void => {
    for (const [event, spec] of Object.entries((node['on'] ?? {}) as Json)) add(path, spec, event);
    if (node['always'] !== undefined) add(path, node['always'], '');
    for (const [delay, spec] of Object.entries((node['after'] ?? {}) as Json)) add(path, spec, `xstate.after.${delay}.${path}`);
    for (const inv of [node['invoke']].flat()) {
      if (typeof inv !== 'object' || inv === null) continue;
      if ((inv as Json)['onDone'] !== undefined) add(path, (inv as Json)['onDone'], 'xstate.done.actor');
      if ((inv as Json)['onError'] !== undefined) add(path, (inv as Json)['onError'], 'xstate.error.actor');
    }
    if (node['onDone'] !== undefined) add(path, node['onDone'], 'xstate.done.state');
    for (const [key, c] of Object.entries((node['states'] ?? {}) as Record<string, Json>)) visit(c, child(path, key));
  };
  visit(config, '');
  return { root, edges: edges.list, targetless: edges.without };
}

/** `id` or `id.path.below` (the longest known id that prefixes it); undefined when it names no state. */
function resolveId(ids: ReadonlyMap<string, string>, ref: string, paths?: ReadonlySet<string>): string | undefined {
  const exact = ids.get(ref);
  if (exact !== undefined) return exact;
  for (let cut = ref.lastIndexOf('.'); cut > 0; cut = ref.lastIndexOf('.', cut - 1)) {
    const base = ids.get(ref.slice(0, cut));
    if (base === undefined) continue;
    const path = child(base, ref.slice(cut + 1));
    return paths === undefined || paths.has(path) ? path : undefined;
  }
  return undefined;
}

class Edges {
  readonly list: ChartEdge[] = [];
  readonly without = new Map<string, string[]>();
  private readonly seen = new Set<string>();

  add(source: string, target: string, event: string): void {
    const key = `${source}|${target}|${event}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.list.push({ source, target, event });
  }

  targetless(source: string, event: string): void {
    const list = this.without.get(source) ?? [];
    if (!list.includes(event)) list.push(event);
    this.without.set(source, list);
  }
}

// ---- the view ----------------------------------------------------------------------------------

/** Events the runtime sends a workflow for its own bookkeeping (ask answers, restored timers); a task's result is not. */
export function isInternalEvent(event: string): boolean {
  return event.startsWith('troupe.') && !event.startsWith(`${TASK_DONE}.`) && !event.startsWith(`${TASK_ERROR}.`);
}

const ROUTE = 'route';

/** A Troupe step state: a compound whose children are all simple states, one of them the `route` pseudo-state. */
function isStep(node: ChartNode): boolean {
  return node.type === 'compound' && node.children.some((c) => c.key === ROUTE) && node.children.every((c) => c.children.length === 0);
}

/**
 * A Troupe workflow's steps are the root's own states, beside `completed`, `compensating` and `aborted`
 * (machines/workflow.ts). The view draws them inside one box, `STEPS` (a path no state can have: ids never hold
 * `~`), so "any step fails" and "cancel" are one edge each from that box, not one per step.
 */
export const STEPS = '~steps';

/** A state inside the steps' box: any but the root, the box and the workflow's own states, and theirs. */
function inStepsBox(path: string): boolean {
  return path !== '' && path !== STEPS && !WORKFLOW_STATES.includes(path.split('.')[0]!);
}

function withStepsBox(root: ChartNode): ChartNode {
  const own = root.children.filter((c) => !inStepsBox(c.path));
  const items = root.children.filter((c) => inStepsBox(c.path));
  if (own.length !== WORKFLOW_STATES.length || items.length === 0 || !items.some((c) => c.type === 'compound' || c.type === 'parallel')) return root;
  const box: ChartNode = { path: STEPS, key: 'steps', type: 'compound', children: items, ...(root.initial === undefined ? {} : { initial: root.initial }) };
  return { ...root, children: [box, ...own], initial: STEPS };
}

/** Whether a drawn state is active: the steps' box is while any step is (the workflow runs its steps). */
export function isDrawnActive(path: string, active: ReadonlySet<string>): boolean {
  if (path !== STEPS) return active.has(path);
  for (const p of active) if (inStepsBox(p)) return true;
  return false;
}

/** The chart as drawn for `view`. */
export function viewOf(model: ChartModel, view: ChartView): ChartViewModel {
  const grouped = withStepsBox(model.root);
  const boxed = grouped !== model.root;
  const drawnAs = new Map<string, string>();
  const keys = new Map<string, string>();
  const routes = new Set<string>();
  const build = (n: ChartNode, hiddenUnder: string | undefined): ViewNode => {
    drawnAs.set(n.path, hiddenUnder ?? n.path);
    keys.set(n.path, n.key);
    const step = isStep(n);
    const collapsed = step && !view.expanded.has(n.path);
    const children = n.children.map((c) => build(c, hiddenUnder ?? (collapsed ? n.path : undefined)));
    const choice = !view.showInternal && n.key === ROUTE && n.children.length === 0 && hiddenUnder === undefined;
    if (n.key === ROUTE && n.children.length === 0) routes.add(n.path);
    return {
      path: n.path, key: n.key, type: n.type, children: collapsed ? [] : children, step, collapsed, choice,
      targetless: (model.targetless.get(n.path) ?? []).filter((e) => view.showInternal || !isInternalEvent(e)).map((e) => (view.showInternal ? rawLabel(e) : humanLabel(e))),
      ...(n.initial === undefined || collapsed ? {} : { initial: n.initial }),
    };
  };
  const root = build(grouped, undefined);
  // The root's own transitions (a workflow's cancel) leave from the steps' box.
  if (boxed) drawnAs.set('', STEPS);
  const merged = new Map<string, { source: string; target: string; label: string; events: string[]; internal: boolean; loop: boolean }>();
  for (const e of model.edges) {
    const internal = isInternalEvent(e.event);
    if (internal && !view.showInternal) continue;
    const source = drawnAs.get(e.source) ?? e.source;
    const target = drawnAs.get(e.target) ?? e.target;
    const loop = e.source === e.target;
    if (source === target && !loop) continue; // inside a collapsed step
    const label = view.showInternal ? rawLabel(e.event) : humanLabel(e.event, routes.has(e.source) ? keys.get(e.target) ?? '' : undefined, e.source, e.target);
    const key = `${source}|${target}|${label}`;
    const found = merged.get(key);
    if (found) {
      if (!found.events.includes(e.event)) found.events.push(e.event);
    } else {
      merged.set(key, { source, target, label, events: [e.event], internal, loop: source === target });
    }
  }
  const edges: ViewEdge[] = [];
  const loops: ViewEdge[] = [];
  for (const { loop, ...edge } of merged.values()) (loop ? loops : edges).push(edge);
  return { root, edges: view.showInternal ? edges : lifted(edges, boxed ? inStepsBox : undefined), loops };
}

/**
 * Several states leaving for the same target with the same label (every step's `fail` into `compensating`)
 * become one edge from their closest common ancestor, the statechart way of saying "any of these".
 */
function lifted(edges: ViewEdge[], inStepsBox?: (path: string) => boolean): ViewEdge[] {
  const groups = new Map<string, ViewEdge[]>();
  for (const e of edges) groups.set(`${e.target}|${e.label}`, [...(groups.get(`${e.target}|${e.label}`) ?? []), e]);
  const out: ViewEdge[] = [];
  for (const group of groups.values()) {
    const sources = group.map((e) => e.source);
    const target = group[0]!.target;
    const shared = group.length > 1 ? commonAncestor(sources) : undefined;
    // Steps with nothing in common but the root are all in the steps' box: leave from it.
    const common = shared === '' && inStepsBox !== undefined && sources.every(inStepsBox) && !inStepsBox(target) ? STEPS : shared;
    if (common === undefined || common === '' || sources.includes(common) || target === common || target.startsWith(`${common}.`)) {
      out.push(...group);
      continue;
    }
    const existing = out.find((e) => e.source === common && e.target === target && e.label === group[0]!.label);
    if (!existing) out.push({ source: common, target, label: group[0]!.label, events: [...new Set(group.flatMap((e) => e.events))], internal: group.some((e) => e.internal) });
  }
  return out;
}

function commonAncestor(paths: readonly string[]): string {
  const split = paths.map((p) => p.split('.'));
  const parts: string[] = [];
  for (let i = 0; split.every((p) => p.length > i + 1 && p[i] === split[0]![i]); i++) parts.push(split[0]![i]!);
  return parts.join('.');
}

/** The event as XState names it, shortened where XState appends the state's id. */
export function rawLabel(event: string): string {
  if (event === '') return 'always';
  if (event.startsWith('xstate.after.')) return `after ${event.slice('xstate.after.'.length).split('.')[0] ?? ''}`;
  for (const prefix of ['xstate.done.actor', 'xstate.error.actor', 'xstate.done.state', TASK_DONE, TASK_ERROR]) if (event.startsWith(prefix)) return prefix;
  return event;
}

const CHOICE_LABELS: Readonly<Record<string, string>> = {
  pending: 'start', summarizing: 'summarize', checking: 'check breaker', running: 'attempt', fallback: 'fallback',
  verifying: 'verify', retrying: 'retry', escalated: 'escalate', done: 'succeed', skipped: 'skip',
};

const EVENT_LABELS: Readonly<Record<string, string>> = {
  'escrow.approved': 'approve', 'escrow.rejected': 'reject', 'escrow.retry': 'retry', 'escrow.escalated': 'escalate',
  'escrow.edited': 'edit', 'workflow.cancel': 'cancel',
};

/**
 * A person's word for a transition: what the step does next out of its `route` choice (retry, escalate,
 * succeed, …; a target outside the step is its failure), what a person decided (approve, reject), or what
 * happened (done, error, backoff over, no answer).
 */
export function humanLabel(event: string, choiceTarget?: string, source?: string, target?: string): string {
  if (event === '') {
    if (choiceTarget === undefined) return 'always';
    const outside = source !== undefined && target !== undefined && !target.startsWith(source.slice(0, source.lastIndexOf('.') + 1));
    return outside ? 'fail' : CHOICE_LABELS[choiceTarget] ?? choiceTarget;
  }
  if (event.startsWith('xstate.after.')) {
    const delay = event.slice('xstate.after.'.length).split('.')[0] ?? '';
    if (delay.endsWith(':retry')) return 'backoff over';
    if (delay.endsWith(':ask')) return 'no answer';
    if (delay.includes(':')) return delay.slice(delay.lastIndexOf(':') + 1);
    return /^\d+$/.test(delay) ? `after ${delay} ms` : `after ${delay}`;
  }
  // An invoked actor's or a state's task's result (machines/task.ts).
  if (event.startsWith('xstate.done.') || event.startsWith(`${TASK_DONE}.`)) return 'done';
  if (event.startsWith('xstate.error.') || event.startsWith(`${TASK_ERROR}.`)) return 'error';
  return EVENT_LABELS[event] ?? event;
}

// ---- the active state --------------------------------------------------------------------------

/** Every active state path of a snapshot value, compound ancestors included ('' is the machine). */
export function activePaths(value: unknown): Set<string> {
  const out = new Set<string>(['']);
  const walk = (v: unknown, base: string): void => {
    if (typeof v === 'string') out.add(child(base, v));
    else if (typeof v === 'object' && v !== null) {
      for (const [key, c] of Object.entries(v as Record<string, unknown>)) {
        out.add(child(base, key));
        walk(c, child(base, key));
      }
    }
  };
  walk(value, '');
  return out;
}

/** The active leaf paths of a snapshot value (what the machine is in, whatever is drawn). */
export { activeLeaves } from '../../src/system/state-value.js';

/** Step records in a workflow's context, as far as a badge needs them. */
interface StepLike {
  readonly status?: string;
  readonly attempt?: number;
}

/**
 * The badge of a collapsed step: its active sub-state in words (running, retrying · attempt 2, waiting for a
 * person, compensating), or '' when the step is not active.
 */
export function stepBadge(path: string, key: string, active: ReadonlySet<string>, context: unknown): string {
  if (!active.has(path)) return '';
  let sub = '';
  for (const p of active) if (p.startsWith(`${path}.`) && !p.slice(path.length + 1).includes('.')) sub = p.slice(path.length + 1);
  const steps = (context as { steps?: Record<string, StepLike> } | undefined)?.steps;
  const record = steps?.[key];
  const compensating = path.split('.').includes('compensating');
  const attempt = record?.attempt !== undefined && record.attempt > 1 ? ` · attempt ${record.attempt}` : '';
  switch (sub) {
    case 'running':
      return compensating ? 'compensating' : `running${attempt}`;
    case 'retrying':
      return record?.attempt === undefined ? 'retrying' : `retrying · attempt ${record.attempt + 1} next`;
    case 'escalated':
      return 'waiting for a person';
    case 'checking':
      return 'checking breaker';
    case 'route':
      return 'deciding';
    default:
      return sub;
  }
}
