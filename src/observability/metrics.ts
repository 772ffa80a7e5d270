/**
 * A small metrics registry in the Prometheus text exposition format (version 0.0.4): counters, gauges and histograms with
 * bounded label sets. Names and units follow OpenTelemetry's conventions as Prometheus exporters render them
 * (`troupe_<thing>_total` for counters, base units in the name). Increments are a map lookup and an add: nothing
 * here runs on an actor's message path (the runtime feeds it from its events).
 */
type Labels = Readonly<Record<string, string>>;

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly values: Map<string, { labels: Labels; value: number }>;
  /** A gauge read at scrape time. */
  read?: () => Array<{ labels: Labels; value: number; suffix?: string }>;
}

export class MetricsRegistry {
  private readonly families = new Map<string, Family>();

  counter(name: string, help: string): (labels?: Labels, by?: number) => void {
    const family = this.family(name, help, 'counter');
    return (labels = {}, by = 1) => {
      const key = labelKey(labels);
      const entry = family.values.get(key);
      if (entry) entry.value += by;
      else family.values.set(key, { labels, value: by });
    };
  }

  /** A gauge (or a counter kept elsewhere) whose values are read when scraped. */
  observed(name: string, help: string, type: 'counter' | 'gauge', read: () => Array<{ labels: Labels; value: number }> | number): void {
    const family = this.family(name, help, type);
    family.read = () => {
      const value = read();
      return typeof value === 'number' ? [{ labels: {}, value }] : value;
    };
  }

  /**
   * A histogram with fixed bucket bounds (upper bounds, ascending): `observe(labels, value)`; rendered as cumulative
   * `_bucket{le}` samples with `_sum` and `_count`, as Prometheus expects.
   */
  histogram(name: string, help: string, bounds: readonly number[]): (labels: Labels, value: number) => void {
    const family = this.family(name, help, 'histogram');
    const series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
    family.read = () => {
      const samples: Array<{ labels: Labels; value: number; suffix: string }> = [];
      for (const s of series.values()) {
        let cumulative = 0;
        bounds.forEach((bound, i) => {
          cumulative += s.counts[i]!;
          samples.push({ labels: { ...s.labels, le: String(bound) }, value: cumulative, suffix: '_bucket' });
        });
        samples.push({ labels: { ...s.labels, le: '+Inf' }, value: s.count, suffix: '_bucket' });
        samples.push({ labels: s.labels, value: s.sum, suffix: '_sum' }, { labels: s.labels, value: s.count, suffix: '_count' });
      }
      return samples;
    };
    return (labels, value) => {
      const key = labelKey(labels);
      let s = series.get(key);
      if (s === undefined) series.set(key, (s = { labels, counts: bounds.map(() => 0), sum: 0, count: 0 }));
      const index = bounds.findIndex((bound) => value <= bound);
      if (index >= 0) s.counts[index]!++;
      s.sum += value;
      s.count++;
    };
  }

  /** The exposition text. */
  async render(): Promise<string> {
    const lines: string[] = [];
    for (const f of this.families.values()) {
      lines.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${f.name} ${f.type}`);
      const samples: Array<{ labels: Labels; value: number; suffix?: string }> = f.read ? f.read() : [...f.values.values()];
      for (const s of samples) lines.push(`${f.name}${s.suffix ?? ''}${renderLabels(s.labels)} ${Number.isFinite(s.value) ? s.value : 0}`);
    }
    return `${lines.join('\n')}\n`;
  }

  private family(name: string, help: string, type: Family['type']): Family {
    if (this.families.has(name)) throw new Error(`metric ${name} is registered twice`);
    const family: Family = { name, help, type, values: new Map() };
    this.families.set(name, family);
    return family;
  }
}

function labelKey(labels: Labels): string {
  return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(',');
}

function renderLabels(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
  return `{${keys.map((k) => `${k}="${escape(labels[k]!)}"`).join(',')}}`;
}
