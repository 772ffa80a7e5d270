/**
 * Supervisor policy: strategy, restart intensity, restart backoff and an optional decider. Validated up
 * front (OTP `check_childspec`): every problem names its field.
 */
import { backoffProblem, type BackoffPolicy } from '../backoff.js';
import type { SupervisionDefaults } from '../config.js';
import { InvalidConfigError, type ActorFailedError } from '../errors.js';
import type { Directive } from '../system/events.js';
import { STRATEGIES, type Strategy } from './strategies.js';

/**
 * Maps a failure to a directive: restart (a fresh incarnation), resume (re-create from the last good
 * snapshot, dropping the failed message), stop, or escalate (fail the supervisor itself).
 * `cause` is what the actor threw; `failure` the runtime's typed wrapper (address, kind).
 * Returning undefined means the default, restart.
 */
export type Decider = (cause: unknown, failure: ActorFailedError) => Directive | undefined;

export interface SupervisorPolicy {
  readonly strategy: Strategy;
  readonly intensity: number;
  readonly periodMs: number;
  readonly backoff: BackoffPolicy;
  readonly decide: Decider | undefined;
  /** Random source for backoff jitter; injectable for deterministic tests. */
  readonly random: () => number;
}

export type PolicyOptions = Partial<Omit<SupervisorPolicy, 'backoff'>> & { backoff?: Partial<BackoffPolicy> };

const DIRECTIVES: readonly Directive[] = ['restart', 'resume', 'stop', 'escalate'];

export function resolvePolicy(options: PolicyOptions | undefined, defaults: SupervisionDefaults, field = 'policy'): SupervisorPolicy {
  const o = options ?? {};
  const policy: SupervisorPolicy = {
    strategy: o.strategy ?? 'one-for-one',
    intensity: o.intensity ?? defaults.intensity,
    periodMs: o.periodMs ?? defaults.periodMs,
    backoff: { ...defaults.backoff, ...stripUndefined(o.backoff ?? {}) },
    decide: o.decide,
    random: o.random ?? Math.random,
  };
  if (!STRATEGIES.includes(policy.strategy)) throw new InvalidConfigError(`${field}.strategy`, `must be one of ${STRATEGIES.join(', ')}`);
  if (!Number.isInteger(policy.intensity) || policy.intensity < 0) throw new InvalidConfigError(`${field}.intensity`, 'must be an integer >= 0');
  if (!Number.isFinite(policy.periodMs) || policy.periodMs <= 0) throw new InvalidConfigError(`${field}.periodMs`, 'must be a finite number > 0');
  const problem = backoffProblem(policy.backoff);
  if (problem) throw new InvalidConfigError(`${field}.backoff.${problem.field}`, problem.reason);
  if (policy.decide !== undefined && typeof policy.decide !== 'function') throw new InvalidConfigError(`${field}.decide`, 'must be a function');
  if (typeof policy.random !== 'function') throw new InvalidConfigError(`${field}.random`, 'must be a function');
  return policy;
}

/** Runs the decider defensively: a throwing or nonsensical decider escalates rather than guessing. */
export function decideDirective(policy: SupervisorPolicy, failure: ActorFailedError): Directive {
  if (policy.decide === undefined) return 'restart';
  try {
    const directive = policy.decide(failure.cause, failure);
    if (directive === undefined) return 'restart';
    return DIRECTIVES.includes(directive) ? directive : 'escalate';
  } catch {
    return 'escalate';
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
