/**
 * Pan and zoom of a chart (issue 14): the chart's `g.viewport` gets one `translate(x,y) scale(k)` transform.
 * Fit-to-view when a chart is shown; wheel zooms about the pointer; dragging pans (a drag never clicks the
 * state it started on); buttons; keys while the chart has focus: + and - zoom, 0 or f fits, arrows pan.
 * The current scale is in the svg's `data-scale`, for people and tests. A chart larger than its view gets a minimap
 * in the corner: the whole chart, small, with a frame around what is in view; a click or drag there moves the view.
 */

const MIN = 0.05;
const MAX = 4;
const MARGIN = 12;

export class PanZoom {
  private svg: SVGSVGElement | undefined;
  private k = 1;
  private x = 0;
  private y = 0;
  private drag: { id: number; x: number; y: number; moved: boolean } | undefined;

  constructor(private readonly box: HTMLElement) {
    box.tabIndex = 0;
    box.addEventListener('wheel', (e) => this.onWheel(e), { passive: false });
    box.addEventListener('pointerdown', (e) => this.onDown(e));
    box.addEventListener('pointermove', (e) => this.onMove(e));
    box.addEventListener('pointerup', (e) => this.onUp(e));
    box.addEventListener('pointercancel', (e) => this.onUp(e));
    // A drag that moved must not also click the state it started on.
    box.addEventListener('click', (e) => {
      if (this.suppressClick) e.stopPropagation();
      this.suppressClick = false;
    }, true);
    box.addEventListener('keydown', (e) => this.onKey(e));
  }

  private suppressClick = false;

  private minimap: { readonly el: SVGSVGElement; readonly frame: SVGRectElement } | undefined;

  /** Takes over a newly drawn chart and fits it. */
  attach(svg: SVGSVGElement): void {
    this.svg = svg;
    this.minimap?.el.remove();
    this.minimap = this.buildMinimap();
    this.fit();
  }

  /** A copy of the chart's drawing, scaled into a corner box, with the view's frame. */
  private buildMinimap(): { el: SVGSVGElement; frame: SVGRectElement } | undefined {
    const size = this.size();
    const viewport = this.svg?.querySelector('g.viewport');
    if (!size || !viewport) return undefined;
    const NS = 'http://www.w3.org/2000/svg';
    const width = 180;
    const height = Math.max(30, Math.min(120, (width * size.h) / size.w));
    const el = document.createElementNS(NS, 'svg');
    el.setAttribute('class', 'minimap');
    el.setAttribute('width', String(width));
    el.setAttribute('height', String(height));
    el.setAttribute('viewBox', `0 0 ${size.w} ${size.h}`);
    el.setAttribute('preserveAspectRatio', 'xMidYMid meet');
    const copy = viewport.cloneNode(true) as SVGGElement;
    copy.removeAttribute('transform');
    // Shapes only: no classes, ids or data attributes, so selectors and clicks meant for the chart never match the copy.
    for (const node of [copy, ...Array.from(copy.querySelectorAll('*'))]) {
      for (const name of node.getAttributeNames()) if (name === 'class' || name === 'id' || name.startsWith('data-') || name === 'marker-end') node.removeAttribute(name);
    }
    for (const node of Array.from(copy.querySelectorAll('text, title'))) node.remove();
    copy.setAttribute('class', 'minimap-chart');
    const frame = document.createElementNS(NS, 'rect');
    frame.setAttribute('class', 'frame');
    el.append(copy, frame);
    const moveTo = (e: PointerEvent) => {
      const r = el.getBoundingClientRect();
      const scale = Math.min(r.width / size.w, r.height / size.h);
      const cx = (e.clientX - r.left - (r.width - size.w * scale) / 2) / scale;
      const cy = (e.clientY - r.top - (r.height - size.h * scale) / 2) / scale;
      this.x = this.box.clientWidth / 2 - cx * this.k;
      this.y = this.box.clientHeight / 2 - cy * this.k;
      this.apply();
    };
    el.addEventListener('pointerdown', (e) => {
      e.stopPropagation(); // not a drag of the chart itself
      el.setPointerCapture(e.pointerId);
      moveTo(e);
    });
    el.addEventListener('pointermove', (e) => void (el.hasPointerCapture(e.pointerId) && moveTo(e)));
    el.addEventListener('click', (e) => e.stopPropagation());
    this.box.append(el);
    return { el, frame };
  }

  /** The whole chart in view, centred, never magnified past 1.25×. */
  fit(): void {
    const size = this.size();
    if (!size) return;
    const { w, h } = size;
    const width = Math.max(1, this.box.clientWidth);
    const height = Math.max(1, this.box.clientHeight);
    this.k = clamp(Math.min((width - 2 * MARGIN) / w, (height - 2 * MARGIN) / h, 1.25));
    this.x = (width - w * this.k) / 2;
    this.y = (height - h * this.k) / 2;
    this.apply();
  }

  /** Zooms by `factor` about a point of the box (its centre by default). */
  zoom(factor: number, at?: { x: number; y: number }): void {
    const p = at ?? { x: this.box.clientWidth / 2, y: this.box.clientHeight / 2 };
    const k = clamp(this.k * factor);
    this.x = p.x - ((p.x - this.x) * k) / this.k;
    this.y = p.y - ((p.y - this.y) * k) / this.k;
    this.k = k;
    this.apply();
  }

  pan(dx: number, dy: number): void {
    this.x += dx;
    this.y += dy;
    this.apply();
  }

  private size(): { w: number; h: number } | undefined {
    if (!this.svg) return undefined;
    return { w: Number(this.svg.dataset['width'] ?? 1), h: Number(this.svg.dataset['height'] ?? 1) };
  }

  private apply(): void {
    const viewport = this.svg?.querySelector('g.viewport');
    if (!this.svg || !viewport) return;
    viewport.setAttribute('transform', `translate(${this.x.toFixed(1)},${this.y.toFixed(1)}) scale(${this.k.toFixed(4)})`);
    this.svg.dataset['scale'] = this.k.toFixed(4);
    this.updateMinimap();
  }

  /** The frame shows the part in view; the minimap shows only while part of the chart is out of view. */
  private updateMinimap(): void {
    const size = this.size();
    if (!this.minimap || !size) return;
    const x0 = -this.x / this.k;
    const y0 = -this.y / this.k;
    const w = this.box.clientWidth / this.k;
    const h = this.box.clientHeight / this.k;
    const { frame, el } = this.minimap;
    frame.setAttribute('x', x0.toFixed(1));
    frame.setAttribute('y', y0.toFixed(1));
    frame.setAttribute('width', w.toFixed(1));
    frame.setAttribute('height', h.toFixed(1));
    const whole = x0 <= 1 && y0 <= 1 && x0 + w >= size.w - 1 && y0 + h >= size.h - 1;
    el.classList.toggle('hidden', whole);
  }

  private onWheel(e: WheelEvent): void {
    if (!this.svg) return;
    e.preventDefault();
    const r = this.box.getBoundingClientRect();
    this.zoom(Math.exp(-e.deltaY * 0.0015), { x: e.clientX - r.left, y: e.clientY - r.top });
  }

  private onDown(e: PointerEvent): void {
    if (!this.svg || e.button !== 0) return;
    this.suppressClick = false;
    this.drag = { id: e.pointerId, x: e.clientX, y: e.clientY, moved: false };
  }

  private onMove(e: PointerEvent): void {
    const d = this.drag;
    if (!d || d.id !== e.pointerId) return;
    const dx = e.clientX - d.x;
    const dy = e.clientY - d.y;
    if (!d.moved && Math.hypot(dx, dy) < 4) return;
    if (!d.moved) this.box.setPointerCapture(e.pointerId);
    d.moved = true;
    d.x = e.clientX;
    d.y = e.clientY;
    this.box.classList.add('dragging');
    this.pan(dx, dy);
  }

  private onUp(e: PointerEvent): void {
    const d = this.drag;
    if (!d || d.id !== e.pointerId) return;
    this.drag = undefined;
    this.suppressClick = d.moved;
    this.box.classList.remove('dragging');
    if (this.box.hasPointerCapture(e.pointerId)) this.box.releasePointerCapture(e.pointerId);
  }

  private onKey(e: KeyboardEvent): void {
    if (!this.svg || e.target !== this.box) return;
    const step = 40;
    const actions: Record<string, () => void> = {
      '+': () => this.zoom(1.25), '=': () => this.zoom(1.25), '-': () => this.zoom(0.8), '0': () => this.fit(), f: () => this.fit(),
      ArrowLeft: () => this.pan(step, 0), ArrowRight: () => this.pan(-step, 0), ArrowUp: () => this.pan(0, step), ArrowDown: () => this.pan(0, -step),
    };
    const action = actions[e.key];
    if (!action) return;
    e.preventDefault();
    action();
  }
}

function clamp(k: number): number {
  return Math.min(MAX, Math.max(MIN, k));
}
