/**
 * The escrow queue: items waiting for a person, nearest SLA first, with a live countdown and the four
 * decisions (approve, edit then approve, reject with a reason, retry). Items are keyed, so a countdown tick
 * or a new item never wipes what someone is typing.
 */
import type { DecideRequest } from '../../src/inspection/wire.js';
import { h, ms, short } from './dom.js';
import { escrowItems, kindOf, levelsOf, type EscrowItemView } from './kinds.js';
import type { Store } from './store.js';

export type Send = (request: Omit<DecideRequest, 'requestId'>) => Promise<{ ok: boolean; error?: string }>;

interface Card {
  readonly el: HTMLElement;
  readonly sla: HTMLElement;
  readonly level: HTMLElement;
  dueAt: number;
}

export class EscrowView {
  readonly el = h('div', { class: 'escrow-list' });
  private readonly cards = new Map<string, Card>();

  constructor(
    private readonly store: Store,
    private readonly send: Send,
  ) {}

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
          this.el.append(card.el);
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
    if (this.cards.size === 0 && !this.el.querySelector('.empty')) this.el.append(h('div', { class: 'empty' }, 'Nothing waits for a person.'));
    if (this.cards.size > 0) this.el.querySelector('.empty')?.remove();
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
    const decide = async (decision: DecideRequest['decision']) => {
      let output: unknown;
      if (decision === 'edit') {
        try {
          output = JSON.parse(editor.value);
        } catch {
          status.textContent = 'The edited output is not valid JSON.';
          return;
        }
      }
      for (const b of Array.from(el.querySelectorAll('button'))) b.disabled = true;
      status.textContent = 'sending…';
      const answer = await this.send({ t: 'decide', escrow, itemId: item.id, decision, output, reason: reason.value || undefined, by: 'inspector' });
      status.textContent = answer.ok ? `${decision}: sent` : `refused: ${answer.error ?? ''}`;
      if (!answer.ok) for (const b of Array.from(el.querySelectorAll('button'))) b.disabled = false;
    };
    const button = (decision: DecideRequest['decision'], label: string) => {
      const b = h('button', { type: 'button', 'data-decision': decision, class: `d-${decision}` }, label);
      b.addEventListener('click', () => void decide(decision));
      return b;
    };
    const editBox = h('details', { class: 'edit' }, h('summary', {}, 'Edit output'), editor, button('edit', 'Approve edited'));
    const el = h('div', { class: 'item', 'data-item-id': item.id, 'data-escrow': escrow },
      h('div', { class: 'item-head' }, h('b', {}, `${item.workflowId} / ${item.stepId}`), ' ', h('span', { class: `tier t-${item.tier}` }, item.tier)),
      h('div', { class: 'item-meta' }, sla, ' · ', level, item.reason ? ` · ${item.reason}` : ''),
      item.error?.message ? h('div', { class: 'item-error' }, short(item.error.message, 160)) : null,
      h('pre', { class: 'item-output' }, short(JSON.stringify(item.output ?? null), 400)),
      h('div', { class: 'buttons' }, button('approve', 'Approve'), button('retry', 'Retry'), reason, button('reject', 'Reject')),
      editBox, status);
    return { el, sla, level, dueAt: item.dueAt };
  }
}
