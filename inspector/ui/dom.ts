/** Tiny DOM helpers for the inspector UI (plain TypeScript, no framework). */

type Attrs = Record<string, string | number | boolean | undefined | null>;
type Child = Node | string | number | null | undefined | false;

function apply(node: Element, attrs: Attrs | undefined, children: Child[]): void {
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === 'object' ? child : String(child));
  }
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  apply(node, attrs, children);
  return node;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function s(tag: string, attrs?: Attrs, ...children: Child[]): SVGElement {
  const node = document.createElementNS(SVG_NS, tag) as SVGElement;
  apply(node, attrs, children);
  return node;
}

export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  apply(parent, undefined, children);
}

export function ms(value: number): string {
  if (!Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  if (abs < 1_000) return `${Math.round(value)} ms`;
  if (abs < 60_000) return `${(value / 1_000).toFixed(1)} s`;
  const m = Math.floor(abs / 60_000);
  const sec = Math.floor((abs % 60_000) / 1_000);
  return `${value < 0 ? '-' : ''}${m}:${String(sec).padStart(2, '0')}`;
}

/** `a.b.c` for a state value (`{ a: { b: 'c' } }`); parallel regions joined with ` | `. */
export function valueText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null) return String(value ?? '');
  const parts = Object.entries(value as Record<string, unknown>).map(([key, child]) => {
    const inner = valueText(child);
    return inner === '' || (typeof child === 'object' && child !== null && Object.keys(child).length === 0) ? key : `${key}.${inner}`;
  });
  return parts.length === 1 ? parts[0]! : `(${parts.join(' | ')})`;
}

export function short(text: string, max = 80): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
