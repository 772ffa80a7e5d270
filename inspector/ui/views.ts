/** The list panels: supervision tree, workflows, circuit breakers, event log. */
import type { WireTreeNode } from '../../src/inspection/wire.js';
import { h, ms, short, valueText } from './dom.js';
import { escrowItems, kindOf, listStatus, listStatusLabel } from './kinds.js';
import type { LogEntry, Store } from './store.js';

export type Select = (address: string) => void;

/** An outside actor's name: its machine's id when its definition came with it, else what its app called it. */
function externalName(a: { readonly address: string; readonly logic: string; readonly config?: string }): string {
  let name = externalNames.get(a.address);
  if (name === undefined) {
    let id: unknown;
    try {
      id = a.config ? (JSON.parse(a.config) as { id?: unknown }).id : undefined;
    } catch {
      id = undefined;
    }
    name = typeof id === 'string' && id !== '' && id !== '(machine)' ? id : a.logic !== '?' ? a.logic : a.address.replace(/^ext-\d+:/, '');
    if (a.config !== undefined) externalNames.set(a.address, name);
  }
  return name;
}

const externalNames = new Map<string, string>();

export function renderTree(store: Store, selected: string | undefined, select: Select, clearStopped: () => void = () => {}): HTMLElement {
  const row = (node: WireTreeNode): HTMLElement => {
    if (node.kind === 'supervisor') {
      return h('li', { class: 'sup', 'data-address': node.address },
        h('div', { class: 'row' }, h('span', { class: 'name' }, node.address.split('/').pop() ?? node.address), h('span', { class: 'meta' }, `${node.strategy} · restarts ${node.restarts}`)),
        h('ul', {}, ...node.children.map(row)));
    }
    const actor = store.actors.get(node.address);
    const li = h('li', { class: `act as-${node.status ?? 'unknown'} ${node.address === selected ? 'selected' : ''}`, 'data-address': node.address },
      h('div', { class: 'row' }, h('span', { class: 'dot' }), h('span', { class: 'name' }, node.address.split('/').pop() ?? node.address),
        h('span', { class: 'meta' }, `${node.logic} · ${node.status ?? node.state}${node.incarnation ? ` · restarts ${node.incarnation}` : ''}${node.queued ? ` · queued ${node.queued}` : ''}`),
        actor ? h('span', { class: 'value' }, short(valueText(actor.snapshot.value), 40)) : null));
    li.querySelector('.row')!.addEventListener('click', () => select(node.address));
    return li;
  };
  const sections = [...store.trees].map(([node, tree]) => h('div', { class: 'node' }, h('div', { class: 'node-name' }, `node ${node}`), h('ul', { class: 'tree' }, row(tree as WireTreeNode))));
  const external = [...store.actors.values()].filter((a) => a.external);
  if (external.length > 0) {
    // Outside apps' actors nest under their parents (an app's root, its spawned and invoked children), by name.
    const here = new Set(external.map((a) => a.address));
    const childrenOf = new Map<string | undefined, typeof external>();
    for (const a of external) {
      const parent = a.parent !== undefined && here.has(a.parent) && a.parent !== a.address ? a.parent : undefined;
      childrenOf.set(parent, [...(childrenOf.get(parent) ?? []), a]);
    }
    const item = (a: (typeof external)[number], depth: number): HTMLElement => {
      const status = String(a.snapshot.status ?? 'active');
      const li = h('li', { class: `act as-${status} ${a.address === selected ? 'selected' : ''}`, 'data-address': a.address, 'data-status': status },
        h('div', { class: 'row' }, h('span', { class: 'dot' }), h('span', { class: 'name', title: a.address }, externalName(a)),
          status === 'stopped' ? h('span', { class: 'badge s-stopped' }, 'stopped') : null,
          h('span', { class: 'value' }, short(valueText(a.snapshot.value), 40))));
      li.querySelector('.row')!.addEventListener('click', (event) => ((event.stopPropagation()), select(a.address)));
      const kids = depth < 20 ? childrenOf.get(a.address) ?? [] : [];
      if (kids.length > 0) li.append(h('ul', { class: 'tree' }, ...kids.map((k) => item(k, depth + 1))));
      return li;
    };
    const stopped = external.some((a) => a.snapshot.status === 'stopped');
    const clear = stopped ? h('button', { type: 'button', id: 'clear-stopped-apps', title: 'Forget the outside apps that disconnected' }, 'clear stopped') : null;
    clear?.addEventListener('click', () => clearStopped());
    sections.push(h('div', { class: 'node' }, h('div', { class: 'node-name' }, 'outside XState apps ', clear),
      h('ul', { class: 'tree' }, ...(childrenOf.get(undefined) ?? []).map((a) => item(a, 0)))));
  }
  return h('div', {}, ...sections);
}

export interface WorkflowFilter {
  /** Part of the workflow's id or address, any case. */
  text: string;
  /** One of `WORKFLOW_FILTERS`, or '' for all. */
  status: string;
  /** `id` (by address) or `started` (newest first); ties keep the address order, so rows never jump as statuses change. */
  sort: 'id' | 'started';
}

/** When a workflow started and how long it ran (so far), from its trace; undefined before its first entry. */
function timesOf(store: Store, workflowId: string, finished: boolean): { started: number; ms: number } | undefined {
  const trace = (store.traces.get(workflowId) ?? []).filter((e) => e !== undefined);
  if (trace.length === 0) return undefined;
  const started = Math.min(...trace.map((e) => e.startedAt ?? e.at ?? Infinity));
  const last = Math.max(...trace.map((e) => e.at ?? 0));
  const ended = trace.some((e) => e.kind === 'workflow' && (e.to === 'completed' || e.to === 'aborted'));
  return Number.isFinite(started) ? { started, ms: (ended || finished ? last : store.now()) - started } : undefined;
}

function clockTime(at: number): string {
  const d = new Date(at);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** The workflows, sorted by address (stable while statuses change), narrowed by the search and the status filter. */
/** Escrow items waiting, by the address of the workflow waiting for each. */
function escrowWaiting(store: Store): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const actor of store.actors.values()) {
    if (actor.finished || kindOf(actor.snapshot) !== 'escrow') continue;
    for (const item of escrowItems(actor.snapshot)) if (item.replyTo) out.set(item.replyTo, [...(out.get(item.replyTo) ?? []), item.id]);
  }
  return out;
}

export function renderWorkflows(store: Store, selected: string | undefined, select: Select, filter: WorkflowFilter): HTMLElement {
  const text = filter.text.trim().toLowerCase();
  const idOf = (a: { address: string; snapshot: { context?: unknown } }) => {
    const id = (a.snapshot.context as { workflowId?: unknown } | undefined)?.workflowId;
    return typeof id === 'string' ? id : a.address.split('/').pop() ?? a.address;
  };
  const byAddress = [...store.actors.values()].filter((a) => kindOf(a.snapshot) === 'workflow').sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  const times = new Map(byAddress.map((a) => [a.address, timesOf(store, idOf(a), a.finished)]));
  // Array.prototype.sort is stable: equal start times keep the address order.
  const all = filter.sort === 'started' ? [...byAddress].sort((a, b) => (times.get(b.address)?.started ?? 0) - (times.get(a.address)?.started ?? 0)) : byAddress;
  const shown = all.filter((a) => (filter.status === '' || listStatus(a.snapshot) === filter.status) && (text === '' || a.address.toLowerCase().includes(text)));
  const waiting = escrowWaiting(store);
  const rows = shown.map((a) => {
    const status = listStatus(a.snapshot);
    const t = times.get(a.address);
    const items = waiting.get(a.address) ?? [];
    const escrowLink = items.length > 0 ? h('a', { href: '#', class: 'escrow-link', title: 'Show its escrow item' }, `${items.length} waiting`) : null;
    escrowLink?.addEventListener('click', (event) => {
      event.preventDefault();
      event.stopPropagation();
      document.querySelector(`.escrow-list .item[data-item-id="${CSS.escape(items[0]!)}"]`)?.scrollIntoView({ block: 'center' });
    });
    const li = h('li', { class: `wf ${a.address === selected ? 'selected' : ''}`, 'data-address': a.address, 'data-status': status },
      h('span', { class: 'name' }, idOf(a)), ' ', h('span', { class: `badge s-${status}` }, listStatusLabel(status)),
      a.finished ? h('span', { class: 'meta' }, ' finished') : null, escrowLink ? ' ' : null, escrowLink,
      t ? h('div', { class: 'meta times' }, h('span', { class: 'started', 'data-at': t.started }, `started ${clockTime(t.started)}`), ' · ', h('span', { class: 'duration' }, ms(t.ms))) : null,
      h('div', { class: 'value' }, short(valueText(a.snapshot.value), 60)));
    li.addEventListener('click', () => select(a.address));
    return li;
  });
  const count = h('div', { class: 'meta', id: 'workflow-count' }, `${shown.length} of ${all.length}`);
  if (all.length === 0) return h('div', { class: 'empty' }, 'No workflows yet.');
  return h('div', {}, count, rows.length ? h('ul', { class: 'workflows' }, ...rows) : h('div', { class: 'empty' }, 'No workflow matches.'));
}

export function renderBreakers(store: Store): HTMLElement {
  const now = store.now();
  const rows = [...store.actors.values()].filter((a) => kindOf(a.snapshot) === 'breaker').map((a) => {
    const c = a.snapshot.context as { target?: string; failures?: number[]; failureThreshold?: number; timers?: Record<string, { dueAt?: number }> };
    const state = valueText(a.snapshot.value ?? '?').split('.')[0] ?? '?';
    const due = Object.values(c.timers ?? {})[0]?.dueAt;
    return h('li', { class: `breaker b-${state}`, 'data-address': a.address, 'data-state': state },
      h('span', { class: 'name' }, c.target ?? a.address), ' ', h('span', { class: `badge b-${state}` }, state),
      h('span', { class: 'meta' }, ` failures ${c.failures?.length ?? 0}/${c.failureThreshold ?? '?'}${state === 'open' && due ? ` · half-open in ${ms(due - now)}` : ''}`));
  });
  return rows.length ? h('ul', { class: 'breakers' }, ...rows) : h('div', { class: 'empty' }, 'No circuit breakers.');
}

/** Pools (issue 11): holders of the capacity, the queue, how long the longest waiter has waited, and past waits. */
export function renderPools(store: Store): HTMLElement {
  const now = store.now();
  const rows = [...store.actors.values()].filter((a) => !a.finished && kindOf(a.snapshot) === 'pool').map((a) => {
    const c = a.snapshot.context as { capacity?: number; queue?: Array<{ requestId?: string; enqueuedAt?: number; key?: string }>; leases?: Record<string, { replyTo?: string; waitedMs?: number; key?: string }> };
    const holders = Object.values(c.leases ?? {});
    const queue = c.queue ?? [];
    const oldest = queue.reduce((min, r) => Math.min(min, r.enqueuedAt ?? Infinity), Infinity);
    const waits = holders.map((l) => l.waitedMs ?? 0);
    const full = holders.length >= (c.capacity ?? Infinity);
    return h('li', { class: `pool ${full ? 'full' : ''}`, 'data-address': a.address, 'data-held': holders.length, 'data-queued': queue.length,
      title: holders.length ? `held by ${holders.map((l) => `${l.replyTo ?? '?'}${l.key ? ` (${l.key})` : ''}`).join(', ')}` : 'no holder' },
      h('span', { class: 'name' }, a.address.split('/').pop() ?? a.address), ' ',
      h('span', { class: `badge ${full ? 'b-open' : 'b-closed'}` }, `${holders.length}/${c.capacity ?? '?'} held`),
      h('span', { class: 'meta' }, ` · ${queue.length} waiting${Number.isFinite(oldest) ? ` · longest ${ms(now - oldest)}` : ''}${waits.length ? ` · holders waited ${ms(Math.max(...waits))} at most` : ''}`));
  });
  return rows.length ? h('ul', { class: 'breakers pools' }, ...rows) : h('div', { class: 'empty' }, 'No pools.');
}

export interface LogFilter {
  text: string;
  categories: Set<LogEntry['category']>;
}

/** `onPick`: a row was clicked (time travel to that moment). */
export function renderLog(store: Store, filter: LogFilter, onPick: (entry: LogEntry) => void = () => {}): HTMLElement {
  const text = filter.text.toLowerCase();
  const shown: LogEntry[] = [];
  for (let i = store.log.length - 1; i >= 0 && shown.length < 300; i--) {
    const e = store.log[i]!;
    if (!filter.categories.has(e.category)) continue;
    if (text && !`${e.type} ${e.actor} ${e.text}`.toLowerCase().includes(text)) continue;
    shown.push(e);
  }
  return h('table', { class: 'log' }, h('tbody', {}, ...shown.map((e) => {
    const row = h('tr', { class: `c-${e.category}`, 'data-type': e.type, 'data-at': e.at, 'data-seq': e.seq, title: 'Show the actor as it was then' },
      h('td', { class: 'num' }, new Date(e.at).toISOString().slice(11, 23)), h('td', {}, e.category), h('td', { class: 'type' }, e.type),
      h('td', {}, e.actor), h('td', { class: 'detail' }, short(e.text, 140)));
    row.addEventListener('click', () => onPick(e));
    return row;
  })));
}
