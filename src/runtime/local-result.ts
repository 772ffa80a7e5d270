/**
 * `result()` of a non-durable actor of this node: its output once its snapshot is `done` (checked like a durable
 * one's: an aborted workflow rejects with its cause); a failure of the actor rejects with ActorFailedError, a
 * stop before it finished with Aborted.
 */
import { Aborted, ActorFailedError, SystemStoppedError, TimeoutError } from '../errors.js';
import { outcomeOfOutput, type ResultOptions } from '../durable/durable-result.js';
import type { ActorCell } from '../system/actor-cell.js';
import type { Termination } from './api.js';

/** `onTerminated` registers a listener for the system's termination and returns its removal. */
export function awaitLocalResult(cell: ActorCell, options: ResultOptions, onTerminated: (listener: (t: Termination) => void) => () => void): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let unsubscribe = () => {};
    let offTerminated = () => {};
    let settled = false;
    const settle = (fn: () => void) => {
      settled = true;
      clearTimeout(timer);
      unsubscribe();
      offTerminated();
      fn();
    };
    const check = (snapshot: { status?: string; output?: unknown; error?: unknown } | undefined) => {
      if (snapshot?.status === 'done') {
        const outcome = outcomeOfOutput(cell.address, snapshot.output);
        settle(() => (outcome.ok ? resolve(outcome.output) : reject(outcome.error)));
      } else if (snapshot?.status === 'error') {
        settle(() => reject(new ActorFailedError(cell.address, 'actor-error', { cause: snapshot.error })));
      } else if (cell.state === 'stopped') {
        settle(() => reject(new Aborted(`actor ${cell.address} was stopped before it finished`, { address: cell.address })));
      }
    };
    unsubscribe = cell.subscribe((snapshot) => check(snapshot as never));
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => settle(() => reject(new TimeoutError(`no result from ${cell.address} within ${options.timeoutMs} ms`, options.timeoutMs!))), options.timeoutMs);
    }
    const system = cell.address.split('/')[0]!;
    if (!settled) offTerminated = onTerminated((t) => settle(() => reject(new SystemStoppedError(t.reason === 'failed' ? `${system} (failed)` : system))));
    check(cell.getSnapshot() as never);
  });
}
