import { InvalidConfigError } from '../errors.js';

/** A lease setting (node membership and shard leases): an integer from 300 to 600,000 ms, or the default when unset. */
export function resolveLeaseMs(field: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 300 || value > 600_000) {
    throw new InvalidConfigError(field, 'must be an integer from 300 to 600,000 (ms)');
  }
  return value;
}
