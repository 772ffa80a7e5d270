/**
 * Benchmark method (DESIGN.md, Benchmarks): a warm-up, then rounds alternating baseline and candidate
 * (A B A B ...), a ratio per pair, the median printed. Each figure is one line:
 *   BENCH <group>.<figure> <value> <unit>
 */

export function report(group: string, figure: string, value: number, unit: string): void {
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 1 ? 2 : 3;
  console.log(`BENCH ${group}.${figure} ${value.toFixed(digits)} ${unit}`);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export interface PairedResult {
  /** Candidate measurements (e.g. ms), one per round. */
  readonly candidate: number[];
  readonly baseline: number[];
  /** Median of per-pair baseline/candidate time ratios: > 1 means the candidate is faster. */
  readonly speedRatio: number;
}

/**
 * Times `baseline` and `candidate` alternately; each returns the elapsed milliseconds of its own timed
 * section (so set-up stays outside the timing).
 */
export async function paired(options: {
  warmup: number;
  rounds: number;
  baseline: () => Promise<number>;
  candidate: () => Promise<number>;
}): Promise<PairedResult> {
  for (let i = 0; i < options.warmup; i++) {
    await options.baseline();
    await options.candidate();
  }
  const baseline: number[] = [];
  const candidate: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < options.rounds; i++) {
    const b = await options.baseline();
    const c = await options.candidate();
    baseline.push(b);
    candidate.push(c);
    ratios.push(b / c);
  }
  return { baseline, candidate, speedRatio: median(ratios) };
}

export function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('run benchmarks with node --expose-gc (npm run bench does)');
  collect();
  collect();
}

export const nowMs = (): number => performance.now();
