/**
 * Logic is registered by name (and version) before it is spawned or restored: snapshots record the name,
 * so a restored actor finds its logic on another node, and a version bump without `migrate` fails loudly.
 */
import type { AnyActorLogic } from 'xstate';
import { InvalidConfigError, UnknownLogicError } from '../errors.js';
import { validateSegment } from './address.js';

export interface RegisterOptions {
  /** Logic version, an integer >= 1 (default 1); stored in every snapshot. */
  readonly version?: number;
  /** Turns a persisted snapshot of an older version into one of this version. */
  readonly migrate?: (snapshot: unknown, fromVersion: number) => unknown;
}

export interface RegisteredLogic<TLogic extends AnyActorLogic = AnyActorLogic> {
  readonly name: string;
  /** Messages handled by this logic's actors on this node (metrics: one add per drain pass, not per message). */
  readonly counts: { handled: number };
  readonly logic: TLogic;
  readonly version: number;
  readonly migrate: ((snapshot: unknown, fromVersion: number) => unknown) | undefined;
  /**
   * Event types the logic can ever handle, or undefined when it accepts anything (non-machine logic, or a
   * machine with a wildcard transition). Derived once from the machine definition.
   */
  readonly accepts: ((type: string) => boolean) | undefined;
}

/** A typed handle returned by `register`, accepted by `spawn` so refs keep the logic's types. */
export interface LogicHandle<TLogic extends AnyActorLogic = AnyActorLogic> {
  readonly name: string;
  /** Type-only marker. */
  readonly __logic?: TLogic;
}

export class LogicRegistry {
  private readonly entries = new Map<string, RegisteredLogic>();

  register<TLogic extends AnyActorLogic>(name: string, logic: TLogic, options: RegisterOptions = {}): RegisteredLogic<TLogic> {
    validateSegment(name, 'logic name');
    const version = options.version ?? 1;
    if (!Number.isInteger(version) || version < 1) throw new InvalidConfigError(`register(${name}).version`, 'must be an integer >= 1');
    if (typeof logic !== 'object' || logic === null || typeof (logic as { transition?: unknown }).transition !== 'function') {
      throw new InvalidConfigError(`register(${name}).logic`, 'must be XState v5 actor logic (a machine, fromPromise, fromCallback, ...)');
    }
    if (this.entries.has(name)) throw new InvalidConfigError(`register(${name})`, 'a logic with this name is already registered');
    const entry: RegisteredLogic<TLogic> = { name, logic, version, migrate: options.migrate, accepts: acceptedEvents(logic), counts: { handled: 0 } };
    this.entries.set(name, entry);
    return entry;
  }

  /** Every registered logic. */
  all(): IterableIterator<RegisteredLogic> {
    return this.entries.values();
  }

  get(name: string): RegisteredLogic {
    const entry = this.entries.get(name);
    if (!entry) throw new UnknownLogicError(name);
    return entry;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }
}

/** For machines: a predicate over the event types some state node handles (wildcards honoured). */
function acceptedEvents(logic: AnyActorLogic): ((type: string) => boolean) | undefined {
  const root = (logic as { root?: { events?: Iterable<string> } }).root;
  if (!root?.events) return undefined;
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const descriptor of root.events) {
    if (descriptor === '*') return undefined;
    if (descriptor.endsWith('.*')) prefixes.push(descriptor.slice(0, -1));
    else exact.add(descriptor);
  }
  if (prefixes.length === 0) return (type) => exact.has(type);
  return (type) => exact.has(type) || prefixes.some((p) => type.startsWith(p));
}
