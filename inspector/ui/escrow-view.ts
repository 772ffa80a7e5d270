/**
 * The escrow queue: items waiting for a person, nearest SLA first, with a live countdown and the four
 * decisions (approve, edit then approve, reject with a reason, retry). Items are keyed, so a countdown tick
 * or a new item never wipes what someone is typing.
 *
 * Issue 14: a card carries what a person needs to decide — the workflow's input, what the step was given, its
 * proposed output, why it escalated, and a link to the workflow. Every decision asks for confirmation and is
 * made under the decider's name, entered once per browser (localStorage) and recorded with the decision.
 */
import type { DecideRequest } from '../../src/inspection/wire.js';
import { h, ms, replace, short } from './dom.js';
import { escrowItems, kindOf, levelsOf, type EscrowItemView } from './kinds.js';
import type { Store } from './store.js';

export type Send = (request: Omit<DecideRequest, 'requestId'>) => Promise<{ ok: boolean; error?: string }>;

const DECIDER_KEY = 'troupe.inspector.decider';
const VERB: Readonly<Record<DecideRequest['decision'], string>> = { approve: 'Approve', edit: 'Approve the edited output of', reject: 'Reject', retry: 'Retry' };

/** The decider's name as this browser remembers it ('' when none, or when storage is unavailable). */
function storedDecider(): string {
  try {
    return localStorage.getItem(DECIDER_KEY) ?? '';
  } catch {
    return '';
  }
}

interface Card {
  readonly el: HTMLElement;
  readonly sla: HTMLElement;
  readonly level: HTMLElement;
  dueAt: number;
}

export class EscrowView {
  private readonly list = h('div', { class: 'escrow-list' });
  private readonly decider = h('input', { id: 'decider-name', placeholder: 'your name', maxlength: 100, autocomplete: 'name' }) as HTMLInputElement;
  readonly el = h('div', { class: 'escrow' }, h('label', { class: 'decider' }, 'Deciding as ', this.decider), this.list);
  private readonly cards = new Map<string, Card>();

  constructor(
    private readonly store: Store,
    private readonly send: Send,
    /** Shows a workflow (selects it in the tree, chart and timeline). */
    private readonly open: (address: string) => void = () => {},
  ) {
    this.decider.value = storedDecider();
    this.decider.addEventListener('change', () => {
      try {
        localStorage.setItem(DECIDER_KEY, this.decider.value.trim());
      } catch {
        // storage off (a private window): the name holds for this page only
      }
    });
  }

  render(): void {
    const wanted = new Set<string>();
    for (const actor of this.store.actors.values()) {
      if (actor.finished || kindOf(actor.snapshot) !== 'escrow') continue;
      const levels = levelsOf(actor.snapshot);
      for (const item of escrowItems(actor.snapshot)) {
        const key = `${actor.address}|${item.id}`;
        wanted.add(key);
        let card = this.cards.get(key);
        if (!card) {
          card = this.card(actor.address, item);
          this.cards.set(key, card);
          this.list.append(card.el);
        }
        card.dueAt = item.dueAt;
        card.level.textContent = `${levels[item.level] ?? `level ${item.level}`}${item.breaches.length ? ` · ${item.breaches.length} SLA breach(es)` : ''}`;
      }
    }
    for (const [key, card] of this.cards) {
      if (!wanted.has(key)) {
        card.el.remove();
        this.cards.delete(key);
      }
    }
    if (this.cards.size === 0 && !this.list.querySelector('.empty')) this.list.append(h('div', { class: 'empty' }, 'Nothing waits for a person.'));
    if (this.cards.size > 0) this.list.querySelector('.empty')?.remove();
    this.tick();
  }

  /** Updates the SLA countdowns only. */
  tick(): void {
    const now = this.store.now();
    for (const card of this.cards.values()) {
      const left = card.dueAt - now;
      card.sla.textContent = left > 0 ? `SLA ${ms(left)}` : `SLA breached ${ms(-left)} ago`;
      card.sla.classList.toggle('late', left <= 0);
      card.sla.classList.toggle('soon', left > 0 && left < 60_000);
    }
  }

  private card(escrow: string, item: EscrowItemView): Card {
    const sla = h('span', { class: 'sla' });
    const level = h('span', { class: 'level' });
    const status = h('div', { class: 'decision-status' });
    const editor = h('textarea', { class: 'edit-output', rows: 4, spellcheck: false });
    editor.value = JSON.stringify(item.output ?? null, null, 2);
    const reason = h('input', { class: 'reject-reason', placeholder: 'reason (for reject)', maxlength: 2000 });
    const confirmBar = h('div', { class: 'confirm', hidden: true });
    const buttons = (): HTMLButtonElement[] => Array.from(el.querySelectorAll('button'));

    const send = async (decision: DecideRequest['decision'], output: unknown, by: string) => {
      for (const b of buttons()) b.disabled = true;
      status.textContent = 'sending…';
      const answer = await this.send({ t: 'decide', escrow, itemId: item.id, decision, output, reason: reason.value || undefined, by });
      status.textContent = answer.ok ? `${decision}: sent by ${by}` : `refused: ${answer.error ?? ''}`;
      if (!answer.ok) for (const b of buttons()) b.disabled = false;
    };
    // A decision is asked for first: it names what it does and who decides, and only Confirm sends it.
    const ask = (decision: DecideRequest['decision']) => {
      const by = this.decider.value.trim();
      if (by === '') {
        status.textContent = 'Enter your name above first: every decision is recorded under it.';
        this.decider.focus();
        return;
      }
      let output: unknown;
      if (decision === 'edit') {
        try {
          output = JSON.parse(editor.value);
        } catch {
          status.textContent = 'The edited output is not valid JSON.';
          return;
        }
      }
      if (decision === 'reject' && reason.value.trim() === '') {
        status.textContent = 'Say why it is rejected: the workflow and its trace keep the reason.';
        reason.focus();
        return;
      }
      status.textContent = '';
      const confirm = h('button', { type: 'button', 'data-confirm': decision, class: `d-${decision}` }, 'Confirm');
      const cancel = h('button', { type: 'button', 'data-cancel': '' }, 'Cancel');
      confirm.addEventListener('click', () => ((confirmBar.hidden = true), void send(decision, output, by)));
      cancel.addEventListener('click', () => ((confirmBar.hidden = true), replace(confirmBar)));
      replace(confirmBar, h('span', {}, `${VERB[decision]} ${item.workflowId} / ${item.stepId} as ${by}?`), confirm, cancel);
      confirmBar.hidden = false;
      confirm.focus();
    };
    const button = (decision: DecideRequest['decision'], label: string) => {
      const b = h('button', { type: 'button', 'data-decision': decision, class: `d-${decision}` }, label);
      b.addEventListener('click', () => ask(decision));
      return b;
    };
    const show = (label: string, value: unknown, cls: string) => value === undefined ? null
      : h('details', { class: `item-data ${cls}`, open: true }, h('summary', {}, label), h('pre', {}, short(JSON.stringify(value, null, 2), 2_000)));
    const link = h('a', { href: '#', class: 'open-workflow', title: 'Show this workflow: chart, timeline and trace' }, `${item.workflowId} / ${item.stepId}`);
    link.addEventListener('click', (event) => {
      event.preventDefault();
      if (item.replyTo) this.open(item.replyTo);
    });
    const editBox = h('details', { class: 'edit' }, h('summary', {}, 'Edit output'), editor, button('edit', 'Approve edited'));
    const el = h('div', { class: 'item', 'data-item-id': item.id, 'data-escrow': escrow },
      h('div', { class: 'item-head' }, link, ' ', h('span', { class: `tier t-${item.tier}` }, item.tier)),
      h('div', { class: 'item-meta' }, sla, ' · ', level),
      h('div', { class: 'item-reason' }, 'Why: ', h('b', {}, item.reason ?? 'escalated')),
      item.error?.message ? h('div', { class: 'item-error' }, short(item.error.message, 160)) : null,
      show('Workflow input', item.input, 'workflow-input'),
      show('Step input', item.stepInput, 'step-input'),
      show('Proposed output', item.output ?? null, 'item-output'),
      h('div', { class: 'buttons' }, button('approve', 'Approve'), button('retry', 'Retry'), reason, button('reject', 'Reject')),
      editBox, confirmBar, status);
    return { el, sla, level, dueAt: item.dueAt };
  }
}
