/** Plain-data views of the live system for the inspector: the supervision tree and an actor's statechart. */
import { Supervisor } from '../supervision/supervisor.js';
import type { ActorCell } from '../system/actor-cell.js';
import type { Child } from '../system/parent.js';
import type { ActorDescription, TreeNode } from './api.js';

export function treeOf(node: Child): TreeNode {
  if (node instanceof Supervisor) {
    return { kind: 'supervisor', address: node.address, strategy: node.policy.strategy, state: node.state, restarts: node.restarts, children: node.childList.map(treeOf) };
  }
  const cell = node as ActorCell;
  return {
    kind: 'actor',
    address: cell.address,
    logic: cell.logic.name,
    version: cell.logic.version,
    state: cell.state,
    status: cell.getSnapshot()?.status,
    incarnation: cell.incarnation,
    restartType: cell.restartType,
    queued: cell.queued,
    dropped: cell.dropped,
  };
}

export function describeCell(cell: ActorCell): ActorDescription {
  const logic = cell.logic.logic as { definition?: unknown; root?: StateNodeLike };
  const definition = logic.definition === undefined ? undefined : withEventless(JSON.parse(JSON.stringify(logic.definition)), logic.root);
  return { address: cell.address, logic: cell.logic.name, version: cell.logic.version, definition };
}

interface StateNodeLike {
  readonly id: string;
  readonly states?: Record<string, StateNodeLike>;
  readonly always?: ReadonlyArray<{ readonly target?: ReadonlyArray<{ readonly id: string }> }>;
}

/** XState's `definition` leaves out eventless (`always`) transitions; the inspector draws them too (issue 5). */
function withEventless(json: Record<string, unknown>, node: StateNodeLike | undefined): Record<string, unknown> {
  if (node === undefined) return json;
  if (node.always && node.always.length > 0) {
    json['always'] = node.always.map((t) => ({ source: `#${node.id}`, target: (t.target ?? []).map((n) => `#${n.id}`), eventType: '' }));
  }
  const states = json['states'] as Record<string, Record<string, unknown>> | undefined;
  for (const [key, child] of Object.entries(node.states ?? {})) {
    const childJson = states?.[key];
    if (childJson !== undefined) withEventless(childJson, child);
  }
  return json;
}
