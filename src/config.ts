/**
 * System configuration: one documented type, exported defaults, and a merge of partial overrides
 * (normalize, then validate, then fill derived defaults). Units are in the field names or docs.
 */
import type { BackoffPolicy } from './backoff.js';

export type MessageCheck = 'plain' | 'roundtrip';

export interface SupervisionDefaults {
  /** Restarts allowed within `periodMs` before the supervisor gives up and escalates. Default 3. */
  readonly intensity: number;
  /** The window of the restart intensity, ms. Default 5,000. */
  readonly periodMs: number;
  /** Delay before a restart: 100 ms to 10 s, factor 2, jitter 0.2 by default. */
  readonly backoff: BackoffPolicy;
}

export interface RuntimeConfig {
  /** System name: the first segment of every address, `[A-Za-z0-9_-]+`. */
  readonly name: string;
  /** Messages an actor's mailbox holds before rejecting the newest with MailboxFullError. Default 1,000. */
  readonly mailboxCapacity: number;
  /** Default `ask` timeout, ms. Default 5,000. */
  readonly askTimeoutMs: number;
  /** Default time `shutdown()` waits for actors to stop, ms. Default 5,000. */
  readonly shutdownTimeoutMs: number;
  /** Messages an actor handles before its mailbox yields the event loop. Default 300. */
  readonly drainBatch: number;
  /**
   * How local sends check messages. 'plain' (default): a cheap plain-data walk. 'roundtrip': the full codec
   * round trip, so the receiver sees exactly what a remote node would (the test suite runs with this).
   */
  readonly messageCheck: MessageCheck;
  /** At most one dead-letter log line per this window, ms; the rest are counted. Default 1,000. */
  readonly deadLetterLogWindowMs: number;
  readonly supervision: SupervisionDefaults;
}

export const DEFAULT_MAILBOX_CAPACITY = 1_000;
export const DEFAULT_ASK_TIMEOUT_MS = 5_000;
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5_000;

/** Fresh defaults (a factory, so no caller can mutate another's). */
export function defaultConfig(name: string): RuntimeConfig {
  return {
    name,
    mailboxCapacity: DEFAULT_MAILBOX_CAPACITY,
    askTimeoutMs: DEFAULT_ASK_TIMEOUT_MS,
    shutdownTimeoutMs: DEFAULT_SHUTDOWN_TIMEOUT_MS,
    drainBatch: 300,
    messageCheck: 'plain',
    deadLetterLogWindowMs: 1_000,
    supervision: { intensity: 3, periodMs: 5_000, backoff: { minMs: 100, maxMs: 10_000, factor: 2, jitter: 0.2 } },
  };
}

export type ConfigOverrides = Partial<Omit<RuntimeConfig, 'supervision'>> & {
  supervision?: Partial<Omit<SupervisionDefaults, 'backoff'>> & { backoff?: Partial<BackoffPolicy> };
};

/**
 * Merges overrides onto the defaults and checks every scalar.
 * Returns the config, or the first problem as `{ field, reason }` (the caller raises a typed error).
 */
export function resolveConfig(overrides: ConfigOverrides & { name: string }): RuntimeConfig | { field: string; reason: string } {
  const base = defaultConfig(overrides.name);
  const config: RuntimeConfig = {
    ...base,
    ...stripUndefined(overrides),
    supervision: {
      ...base.supervision,
      ...stripUndefined(overrides.supervision ?? {}),
      backoff: { ...base.supervision.backoff, ...stripUndefined(overrides.supervision?.backoff ?? {}) },
    },
  };
  const positiveInts: (keyof RuntimeConfig)[] = ['mailboxCapacity', 'drainBatch'];
  for (const field of positiveInts) {
    const v = config[field] as number;
    if (!Number.isInteger(v) || v < 1) return { field, reason: 'must be an integer >= 1' };
  }
  for (const field of ['askTimeoutMs', 'shutdownTimeoutMs', 'deadLetterLogWindowMs'] as const) {
    const v = config[field];
    if (!Number.isFinite(v) || v < 0) return { field, reason: 'must be a finite number >= 0' };
  }
  if (config.messageCheck !== 'plain' && config.messageCheck !== 'roundtrip') {
    return { field: 'messageCheck', reason: "must be 'plain' or 'roundtrip'" };
  }
  return config;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  const out: Partial<T> = {};
  for (const key of Object.keys(value) as (keyof T)[]) if (value[key] !== undefined) out[key] = value[key];
  return out;
}
