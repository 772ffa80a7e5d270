/**
 * Masking of sensitive fields before anything leaves the process (issue 5). A mask is a list of dot paths
 * matched against each published value under its root name:
 *   `snapshot.<...>` snapshots (e.g. `snapshot.context.customer.email`), `event.<...>` events,
 *   `trace.<...>` execution-trace entries, `runtime.<...>` runtime events.
 * `*` matches one key (array indices included), `**` any number of keys: `**.password` masks every
 * `password` field everywhere. A masked value is replaced by `MASKED`; the input is never mutated (copy on
 * write), and with no mask configured nothing is walked at all.
 */

export const MASKED = '[masked]';

export type MaskRoot = 'snapshot' | 'event' | 'trace' | 'runtime';

export type Masker = <T>(root: MaskRoot, value: T) => T;

type Pattern = readonly string[];

/** Compiles mask paths; throws a TypeError naming the bad path. */
export function createMasker(paths: readonly string[] | undefined): Masker | undefined {
  if (paths === undefined || paths.length === 0) return undefined;
  const patterns: Pattern[] = paths.map((path, i) => {
    if (typeof path !== 'string' || path.length === 0 || path.split('.').some((s) => s.length === 0)) {
      throw new TypeError(`inspection mask[${i}] must be a dot path like 'snapshot.context.email' or '**.password'`);
    }
    return path.split('.');
  });
  return <T>(root: MaskRoot, value: T): T => walk(value, [root], patterns) as T;
}

function walk(value: unknown, path: string[], patterns: readonly Pattern[]): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const live = patterns.filter((p) => matchPrefix(p, 0, path, 0));
  if (live.length === 0) return value;
  let copy: Record<string, unknown> | unknown[] | undefined;
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value as Record<string, unknown>);
  for (const [key, child] of entries) {
    path.push(key);
    const next = live.some((p) => matchFull(p, 0, path, 0)) ? MASKED : walk(child, path, live);
    path.pop();
    if (next !== child) {
      copy ??= Array.isArray(value) ? [...value] : { ...(value as Record<string, unknown>) };
      (copy as Record<string, unknown>)[key] = next;
    }
  }
  return copy ?? value;
}

/** True when `path` (from `ki`) matches the pattern (from `pi`) completely. */
function matchFull(p: Pattern, pi: number, path: readonly string[], ki: number): boolean {
  if (pi === p.length) return ki === path.length;
  const seg = p[pi];
  if (seg === '**') {
    for (let k = ki; k <= path.length; k++) if (matchFull(p, pi + 1, path, k)) return true;
    return false;
  }
  if (ki === path.length) return false;
  return (seg === '*' || seg === path[ki]) && matchFull(p, pi + 1, path, ki + 1);
}

/** True when some extension of `path` could still match the pattern. */
function matchPrefix(p: Pattern, pi: number, path: readonly string[], ki: number): boolean {
  if (ki === path.length) return pi < p.length;
  if (pi === p.length) return false;
  const seg = p[pi];
  if (seg === '**') return true;
  return (seg === '*' || seg === path[ki]) && matchPrefix(p, pi + 1, path, ki + 1);
}
