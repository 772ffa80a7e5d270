/**
 * Restoring a workflow persisted by Troupe 0.1, whose steps sat in a compound state `active` under the root
 * (`{ active: { s0: 'running' } }`); they are the root's own states now (`{ s0: 'running' }`, workflow.ts). A stored
 * snapshot of the earlier layout is rewritten as it is restored, so durable workflows in flight across the upgrade
 * resume where they were:
 * - its state value loses the `active` level (its invoked steps' attempts, XState children then, are not kept: the
 *   restored workflow runs the attempts of its active states again, task.ts);
 * - its pending `after` timers, which a durable record keeps beside the snapshot with the same state ids in their
 *   event types (`xstate.after.<delay>.<workflow>.active.s0.retrying`), through `troupeRestoreTimer`.
 * Each rewrite applies only where the stored form does not fit the chart as it is (a top-level step may itself be
 * named `active`).
 */
import type { AnyStateMachine } from 'xstate';

interface StateNodeLike {
  readonly states: Readonly<Record<string, StateNodeLike>>;
}

interface PersistedLike {
  readonly value?: unknown;
}

/** A timer as a durable record keeps it: XState's scheduled event id, the event, and when it is due. */
export interface RestoredTimer {
  readonly id: string;
  readonly event: { readonly type: string } & Record<string, unknown>;
  readonly dueAt: number;
}

export type NestedRestore = { readonly troupeRestoreTimer: (timer: RestoredTimer) => RestoredTimer };

/** Adds the rewrite to the machine's `restoreSnapshot`, and `troupeRestoreTimer` for a durable record's timers. */
export function withNestedRestore<T extends AnyStateMachine>(machine: T): T & NestedRestore {
  const restore = machine.restoreSnapshot.bind(machine);
  const nestedId = `${machine.id}.active.`;
  const flatId = `${machine.id}.`;
  const restoreSnapshot = (snapshot: unknown, scope: unknown) => {
    const persisted = snapshot as PersistedLike;
    if (!isNested(machine.root as unknown as StateNodeLike, persisted.value)) return restore(snapshot as never, scope as never);
    return restore({ ...persisted, value: (persisted.value as { active: unknown }).active } as never, scope as never);
  };
  const troupeRestoreTimer = (timer: RestoredTimer): RestoredTimer => {
    const type = timer.event.type;
    const at = type.startsWith('xstate.after.') ? type.indexOf(`.${nestedId}`) + 1 : 0;
    if (at === 0) return timer;
    const stateId = type.slice(at);
    const flat = `${flatId}${stateId.slice(nestedId.length)}`;
    if (hasStateNode(machine, stateId) || !hasStateNode(machine, flat)) return timer;
    const renamed = `${type.slice(0, at)}${flat}`;
    return { ...timer, id: timer.id === type ? renamed : timer.id, event: { ...timer.event, type: renamed } };
  };
  return Object.assign(machine, { restoreSnapshot, troupeRestoreTimer });
}

function hasStateNode(machine: AnyStateMachine, id: string): boolean {
  try {
    machine.getStateNodeById(id);
    return true;
  } catch {
    return false;
  }
}

/** A value of the earlier layout: `{ active: v }` where `v` is not what the root's own `active` state (if any) holds. */
function isNested(root: StateNodeLike, value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Object.keys(value).length !== 1 || !('active' in value)) return false;
  const own = root.states['active'];
  return own === undefined || !fitsValue(own, (value as { active: unknown }).active);
}

function fitsValue(node: StateNodeLike, value: unknown): boolean {
  if (typeof value === 'string') return node.states[value] !== undefined;
  if (typeof value !== 'object' || value === null) return false;
  return Object.entries(value).every(([key, sub]) => node.states[key] !== undefined && fitsValue(node.states[key]!, sub));
}
