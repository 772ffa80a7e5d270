/**
 * A workflow's timeline from its execution trace: one lane per step (and per compensation), bars for attempts,
 * backoff waits and escalation waits over a time axis, a colour legend, then every entry as a row (attempt,
 * outcome, backoff delay, verifier result, tokens at each handoff, errors). Clicking a step's lane shows what the
 * step was given and what it returned, from the workflow's live context (issue 14).
 */
import type { TraceEntryLike } from '../../src/inspection/wire.js';
import { h, ms, replace, s, short } from './dom.js';

const LANE = 22;
const LEFT = 130;
const WIDTH = 760;

/** What the workflow's snapshot context says of its steps (the parts the step panel reads). */
export interface WorkflowContextView {
  readonly input?: unknown;
  readonly results?: Readonly<Record<string, unknown>>;
  readonly steps?: Readonly<Record<string, { readonly status?: string; readonly attempt?: number; readonly output?: unknown; readonly error?: { readonly message?: string }; readonly handoff?: { readonly from?: readonly string[]; readonly context?: unknown; readonly summarized?: boolean } }>>;
}

/** The step whose input and output are shown, per workflow: kept across re-renders (the timeline redraws live). */
const shownStep = new Map<string, string>();

const LEGEND: ReadonlyArray<readonly [string, string]> = [
  ['bar', 'attempt'], ['bar o-succeeded', 'succeeded / approved'], ['bar o-retrying', 'failed attempt'], ['bar backoff', 'backoff before a retry'],
  ['bar waiting', 'waiting for a person'], ['bar k-compensation', 'compensation'],
];

export function renderTimeline(workflowId: string, trace: readonly (TraceEntryLike | undefined)[], status: string, now: number, context?: WorkflowContextView): HTMLElement {
  const entries = trace.filter((e): e is TraceEntryLike => e !== undefined);
  if (entries.length === 0) return h('div', { class: 'empty' }, `No trace for ${workflowId} yet.`);
  const count = (pred: (e: TraceEntryLike) => boolean) => entries.filter(pred).length;
  const tokens = entries.filter((e) => e.kind === 'handoff').reduce((sum, e) => sum + (e.tokens ?? 0), 0);
  const summary = h('div', { class: 'summary' },
    h('b', {}, workflowId), ' ', h('span', { class: `badge s-${status}`, id: 'workflow-status' }, status),
    ` · retries ${count((e) => e.outcome === 'retrying')}`,
    ` · escalations ${count((e) => e.outcome === 'escalated')}`,
    ` · compensations ${count((e) => e.kind === 'compensation' && e.outcome === 'succeeded')}`,
    ` · handed off ${tokens} tokens`);
  const panel = h('div', { class: 'step-panel' });
  const show = (step: string) => {
    shownStep.set(workflowId, step);
    replace(panel, stepPanel(step, context));
  };
  const shown = shownStep.get(workflowId);
  if (shown !== undefined) show(shown);
  const legend = h('div', { class: 'legend' }, ...LEGEND.map(([cls, label]) => h('span', { class: 'key' }, s('svg', { width: 12, height: 10 }, s('rect', { class: cls, width: 12, height: 10 })), label)));
  return h('div', { class: 'timeline', 'data-workflow': workflowId }, summary, lanes(entries, status === 'running' ? now : undefined, show), legend, panel, table(entries));
}

/** A step's input (what it was handed: the summary, or the outputs it reads from) and output, as the context has them. */
function stepPanel(step: string, context: WorkflowContextView | undefined): HTMLElement {
  const record = context?.steps?.[step];
  if (record === undefined) return h('div', { class: 'empty', 'data-step': step }, `No context for step ${step} (the workflow is not loaded here).`);
  const handoff = record.handoff;
  // A step's output: from `results` once it is done, from its record while it waits for a person.
  const outputOf = (id: string): unknown => {
    const results = context?.results;
    const fromResults = results !== null && typeof results === 'object' && Object.hasOwn(results, id) ? results[id] : undefined;
    return fromResults ?? context?.steps?.[id]?.output; // a finished step's output is in results; a record holds one only while it waits
  };
  const input = handoff?.summarized ? handoff.context : Object.fromEntries((handoff?.from ?? []).map((id) => [id, outputOf(id)]));
  const block = (label: string, value: unknown, cls: string) => h('div', { class: cls }, h('b', {}, label), h('pre', {}, short(JSON.stringify(value ?? null, null, 2), 4_000)));
  return h('div', { class: 'step-data', 'data-step': step },
    h('div', {}, h('b', {}, step), ` · ${record.status ?? '?'} · attempt ${record.attempt ?? 0}`, record.error?.message ? ` · error: ${short(record.error.message, 120)}` : ''),
    block('Input', { input: context?.input, context: input }, 'step-input'),
    block('Output', outputOf(step), 'step-output'));
}

function laneOf(e: TraceEntryLike): string {
  if (e.kind === 'compensation') return `${e.step ?? ''} (undo)`;
  if (e.kind === 'workflow') return 'workflow';
  return e.step || 'workflow';
}

/** Tick spacing for about `count` ticks over `span` ms: 1, 2 or 5 times a power of ten. */
function tickStep(span: number, count = 6): number {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= raw) ?? 10 * power;
}

function lanes(entries: TraceEntryLike[], now: number | undefined, onLane: (step: string) => void): SVGElement {
  const names: string[] = [];
  for (const e of entries) if (e.kind !== 'handoff' && !names.includes(laneOf(e))) names.push(laneOf(e));
  const t0 = Math.min(...entries.map((e) => e.startedAt ?? e.at ?? Infinity));
  const t1 = Math.max(now ?? 0, ...entries.map((e) => (e.at ?? 0) + (e.outcome === 'retrying' ? e.delayMs ?? 0 : 0)));
  const span = Math.max(1, t1 - t0);
  const x = (t: number) => LEFT + ((t - t0) / span) * (WIDTH - LEFT - 10);
  const y = (lane: string) => 6 + names.indexOf(lane) * LANE;
  const parts: SVGElement[] = names.map((name) => {
    const label = s('text', { class: 'lane-label', x: 4, y: y(name) + 13, 'data-lane': name }, short(name, 20), s('title', {}, `${name}: click for its input and output`));
    if (name !== 'workflow' && !name.endsWith(' (undo)')) label.addEventListener('click', () => onLane(name));
    return label;
  });
  // The time axis: ticks from the run's start, gridlines through the lanes.
  const axisY = names.length * LANE + 8;
  const step = tickStep(span);
  for (let t = 0; t <= span; t += step) {
    parts.push(s('line', { class: 'grid', x1: x(t0 + t), x2: x(t0 + t), y1: 4, y2: axisY }));
    parts.push(s('text', { class: 'tick', x: x(t0 + t), y: axisY + 12, 'text-anchor': 'middle' }, t === 0 ? '0' : `+${ms(t)}`));
  }
  const bar = (lane: string, from: number, to: number, cls: string, title: string) =>
    parts.push(s('rect', { class: `bar ${cls}`, x: x(from), y: y(lane) + 2, width: Math.max(2, x(to) - x(from)), height: LANE - 8 }, s('title', {}, title)));
  const waiting = new Map<string, number>();
  const started = new Map<string, number>();
  for (const e of entries) {
    const lane = laneOf(e);
    const at = e.at ?? t0;
    if (e.outcome === 'started' || e.outcome === 'permitted') started.set(lane, at);
    const from = e.startedAt ?? (e.from === 'running' ? started.get(lane) : undefined);
    if (from !== undefined && e.kind !== 'escrow') bar(lane, from, at, `o-${e.outcome ?? ''} k-${e.kind ?? ''}`, `attempt ${e.attempt ?? ''}: ${e.outcome ?? ''}`);
    if (e.outcome === 'retrying' && e.delayMs !== undefined) bar(lane, at, at + e.delayMs, 'backoff', `backoff ${ms(e.delayMs)}`);
    if (e.kind === 'step' && e.outcome === 'escalated') waiting.set(lane, at);
    if (e.kind === 'step' && waiting.has(lane) && ['approved', 'rejected', 'retry'].includes(e.outcome ?? '')) {
      bar(lane, waiting.get(lane)!, at, 'waiting', `waited for a person: ${e.outcome ?? ''}`);
      waiting.delete(lane);
    }
    if (e.kind === 'workflow') parts.push(s('circle', { class: `mark o-${e.outcome ?? ''}`, cx: x(at), cy: y(lane) + 9, r: 5 }, s('title', {}, e.outcome ?? '')));
  }
  for (const [lane, since] of waiting) bar(lane, since, t1, 'waiting open', 'waiting for a person');
  const height = axisY + 18;
  return s('svg', { class: 'lanes', width: WIDTH, height, viewBox: `0 0 ${WIDTH} ${height}` }, ...parts);
}

function table(entries: TraceEntryLike[]): HTMLElement {
  const t0 = entries[0]?.at ?? 0;
  const rows = entries.map((e) => h('tr', { class: `k-${e.kind ?? ''} o-${e.outcome ?? ''}`, 'data-kind': e.kind ?? '', 'data-outcome': e.outcome ?? '', 'data-step': e.step ?? '' },
    h('td', { class: 'num' }, `+${ms((e.at ?? t0) - t0)}`),
    h('td', {}, e.kind ?? ''),
    h('td', {}, e.step ?? ''),
    h('td', { class: 'num' }, e.attempt ? String(e.attempt) : ''),
    h('td', {}, `${e.from ?? ''} → ${e.to ?? ''}`),
    h('td', { class: 'outcome' }, e.outcome ?? ''),
    h('td', { class: 'detail' }, details(e))));
  return h('table', { class: 'trace' },
    h('thead', {}, h('tr', {}, ...['time', 'kind', 'step', 'attempt', 'transition', 'outcome', 'detail'].map((c) => h('th', {}, c)))),
    h('tbody', {}, ...rows));
}

function details(e: TraceEntryLike): string {
  const parts: string[] = [];
  if (e.outcome === 'retrying' && e.delayMs !== undefined) parts.push(`backoff ${ms(e.delayMs)}`);
  if (e.tokens !== undefined) parts.push(`${e.tokens} tokens`);
  if (e.bytes !== undefined) parts.push(`${e.bytes} B`);
  if (e.summarized) parts.push(`summarized from ${e.originalTokens ?? '?'} tokens`);
  if (e.startedAt !== undefined && e.at !== undefined) parts.push(`took ${ms(e.at - e.startedAt)}`);
  if (e.error?.message) parts.push(`error: ${short(e.error.message, 90)}`);
  const d = e.detail;
  if (d) {
    if (typeof d['reason'] === 'string') parts.push(`reason: ${d['reason']}`);
    if (typeof d['verdict'] === 'string' || typeof d['ok'] === 'boolean') parts.push(`verifier: ${String(d['verdict'] ?? (d['ok'] ? 'PASS' : 'FAIL'))}`);
    if (Array.isArray(d['compensations'])) parts.push(`compensations: ${(d['compensations'] as string[]).join(', ')}`);
    if (typeof d['by'] === 'string') parts.push(`by ${d['by']}`);
  }
  return parts.join(' · ');
}
