/**
 * An XState snapshot value as paths: shared by `system.actors()` (`troupe ps`) and the inspector's chart, which
 * bundles this module for the browser (no Node imports here).
 */

/** The active leaf paths of a snapshot value (what the machine is in): `draft.running`, one per parallel region. */
export function activeLeaves(value: unknown): string[] {
  const out: string[] = [];
  const child = (base: string, key: string) => (base === '' ? key : `${base}.${key}`);
  const walk = (v: unknown, base: string): void => {
    if (typeof v === 'string') out.push(child(base, v));
    else if (typeof v === 'object' && v !== null) {
      const entries = Object.entries(v as Record<string, unknown>);
      for (const [key, c] of entries) {
        if (typeof c === 'object' && c !== null && Object.keys(c).length === 0) out.push(child(base, key));
        else walk(c, child(base, key));
      }
    }
  };
  walk(value, '');
  return out;
}
