/**
 * Waiting for a durable actor's result (issue 8): its persisted output once its `done` record is stored, read from
 * the snapshot store, or the finished store once it has moved there (finished-records.ts) — so it works from any process connected to the system, also after the process that ran the
 * actor died. An aborted workflow, an actor its supervisor gave up on, or one stopped before it finished rejects
 * with a typed cause. Polls with a growing interval (a store has no change feed behind this seam).
 */
import { Aborted, ActorFailedError, errorFromPlain, isPlainError, SystemStoppedError, TimeoutError } from '../errors.js';
import { snapshotKey, type SnapshotStore } from '../persistence/snapshot-store.js';
import { decodeRecord, type DurableRecord } from './durable-record.js';
import { readRecordBytes } from './finished-records.js';

export interface ResultOptions {
  /** Give up after this long, ms (TimeoutError). Default: wait until the actor finishes or the system stops. */
  readonly timeoutMs?: number;
}

const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 250;

export type Outcome = { readonly ok: true; readonly output: unknown } | { readonly ok: false; readonly error: Error };

/** The outcome a stored record says, or undefined while the actor is still active. */
export function outcomeOf(record: DurableRecord): Outcome | undefined {
  const address = record.address;
  switch (record.status) {
    case 'active':
      return undefined;
    case 'done':
      return outcomeOfOutput(address, (record.snapshot as { output?: unknown } | undefined)?.output);
    case 'failed':
      return { ok: false, error: new ActorFailedError(address, 'escalated', { cause: new Error(`its supervisor gave up on ${address}`) }) };
    case 'stopped':
      return { ok: false, error: new Aborted(`actor ${address} was stopped before it finished`, { address }) };
  }
}

/** A workflow's output that says `aborted` is a failure with its cause; any other output is the result. */
export function outcomeOfOutput(address: string, output: unknown): Outcome {
  const shaped = output as { status?: unknown; cause?: { stepId?: unknown; error?: unknown } } | undefined;
  if (shaped?.status !== 'aborted') return { ok: true, output };
  const stepId = typeof shaped.cause?.stepId === 'string' ? shaped.cause.stepId : undefined;
  const cause = isPlainError(shaped.cause?.error) ? errorFromPlain(shaped.cause.error) : undefined;
  const message = `workflow ${address} aborted${stepId ? ` at step ${stepId}` : ''}${cause ? `: ${cause.message}` : ''}`;
  return { ok: false, error: new Aborted(message, { address, stepId, output }, cause ? { cause } : undefined) };
}

/** Resolves with the stored output of `address` once it is done; see the module comment. */
export async function awaitStoredResult(store: SnapshotStore, finished: SnapshotStore | undefined, address: string, options: ResultOptions, stopped: () => string | undefined): Promise<unknown> {
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  for (let wait = FIRST_POLL_MS; ; wait = Math.min(MAX_POLL_MS, wait * 2)) {
    // The snapshot store first, then the finished store: a record being moved is always in one of them.
    const stored = await readRecordBytes(store, finished, snapshotKey(address));
    const outcome = stored === undefined ? undefined : outcomeOf(decodeRecord(stored.value));
    if (outcome?.ok) return outcome.output;
    if (outcome) throw outcome.error;
    const system = stopped();
    if (system !== undefined) throw new SystemStoppedError(system);
    const left = deadline - Date.now();
    if (left <= 0) throw new TimeoutError(`no result from ${address} within ${options.timeoutMs} ms`, options.timeoutMs!);
    await new Promise((resolve) => setTimeout(resolve, Math.min(wait, left)));
  }
}

/**
 * A durable actor this node hosts: its final record as the cell stores it, without polling. When the cell stops
 * without one (a shutdown, another process took over), the store decides (`fromStore`, given the time left).
 */
export function awaitHostedResult(
  cell: { whenFinalStored(): Promise<DurableRecord | undefined> },
  address: string,
  options: ResultOptions,
  fromStore: (options: ResultOptions) => Promise<unknown>,
): Promise<unknown> {
  const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
  const hosted = cell.whenFinalStored().then((record) => {
    if (record === undefined) return fromStore(deadline === undefined ? {} : { timeoutMs: Math.max(0, deadline - Date.now()) });
    const outcome = outcomeOf(record)!;
    if (outcome.ok) return outcome.output;
    throw outcome.error;
  });
  if (options.timeoutMs === undefined) return hosted;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`no result from ${address} within ${options.timeoutMs} ms`, options.timeoutMs!)), options.timeoutMs);
  });
  return Promise.race([hosted, expired]).finally(() => clearTimeout(timer));
}
