/**
 * Cheap plain-data check for local sends. msgpackr silently turns functions, class instances and symbols into
 * `{}` or drops them, so a message that "works" in one process would arrive changed on another node; this
 * check rejects such messages at the sender instead (Effect's simulateRemoteSerialization, the cheap half).
 *
 * Plain data: null, undefined, booleans, finite or non-finite numbers, strings, bigints, Dates, Uint8Arrays,
 * arrays and objects whose prototype is Object.prototype or null, with string keys only and no cycles.
 */

/** The first problem found, as a path (`$.items[2].fn`) and a reason; undefined when the value is plain data. */
export interface PlainDataProblem {
  readonly path: string;
  readonly reason: string;
}

const MAX_DEPTH = 64;

export function findNonPlainData(value: unknown): PlainDataProblem | undefined {
  // Fast path for the common event shape: a flat object of primitives needs no ancestor tracking.
  return check(value, '$', undefined, 0);
}

function check(value: unknown, path: string, ancestors: unknown[] | undefined, depth: number): PlainDataProblem | undefined {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'undefined':
    case 'bigint':
      return undefined;
    case 'function':
      return { path, reason: 'functions cannot be sent' };
    case 'symbol':
      return { path, reason: 'symbols cannot be sent' };
  }
  if (value === null) return undefined;
  if (depth >= MAX_DEPTH) return { path, reason: `nested deeper than ${MAX_DEPTH} levels` };
  const object = value as object;
  if (ancestors !== undefined && ancestors.includes(object)) return { path, reason: 'cycle' };
  if (Array.isArray(object)) {
    const stack = ancestors === undefined ? [object] : [...ancestors, object];
    for (let i = 0; i < object.length; i++) {
      const problem = check(object[i], `${path}[${i}]`, stack, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  const proto = Object.getPrototypeOf(object);
  if (proto !== Object.prototype && proto !== null) {
    if (object instanceof Date || object instanceof Uint8Array) return undefined;
    const name = (proto as { constructor?: { name?: string } }).constructor?.name ?? 'unknown';
    return { path, reason: `instances of ${name} cannot be sent (use plain objects)` };
  }
  if (Object.getOwnPropertySymbols(object).length > 0) return { path, reason: 'symbol keys cannot be sent' };
  let stack: unknown[] | undefined;
  for (const key in object) {
    const child = (object as Record<string, unknown>)[key];
    if (typeof child === 'object' && child !== null) {
      stack ??= ancestors === undefined ? [object] : [...ancestors, object];
      const problem = check(child, `${path}.${key}`, stack, depth + 1);
      if (problem) return problem;
    } else if (typeof child === 'function' || typeof child === 'symbol') {
      return { path: `${path}.${key}`, reason: `${typeof child}s cannot be sent` };
    }
  }
  return undefined;
}
