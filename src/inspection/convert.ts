/**
 * Live runtime objects -> plain wire records (issue 5). Live refs become plain ids (`sessionId`, `parentId`,
 * `rootId`), values are stringified safely (cycles, functions, `Error` objects, bigints), and the work runs
 * when a batch is sealed, off the actor's hot path (statelyai/inspect's createInspector does the same).
 */
import type { InspectionEvent } from 'xstate';
import { toPlainError } from '../errors.js';
import type { Masker } from './mask.js';
import { STATELY_VERSION, type EventObjectLike, type WireRecord, type WireSnapshot } from './wire.js';

/** Plain-data copy of any value (a snapshot's `toJSON` is honoured); never throws. */
export function toPlain(value: unknown): unknown {
  if (value === undefined) return undefined;
  try {
    // Only a true cycle (an object inside itself) is cut: a value shared by two fields — a workflow's `results` and
    // its steps' outputs — is written at both places (a "seen" set turned the second into '[cycle]').
    const ancestors: object[] = [];
    const json = JSON.stringify(value, function (this: unknown, _key, v: unknown) {
      if (typeof v === 'bigint') return v.toString();
      if (typeof v === 'function' || typeof v === 'symbol') return undefined;
      if (v instanceof Error) return toPlainError(v);
      if (typeof v === 'object' && v !== null) {
        while (ancestors.length > 0 && ancestors[ancestors.length - 1] !== this) ancestors.pop();
        if (ancestors.includes(v)) return '[cycle]';
        ancestors.push(v);
      }
      return v;
    });
    return json === undefined ? undefined : JSON.parse(json);
  } catch {
    return '[unserializable]';
  }
}

/** The wire form of an XState snapshot, masked. */
export function plainSnapshot(snapshot: unknown, mask: Masker | undefined): WireSnapshot {
  const plain = toPlain(snapshot);
  const obj = typeof plain === 'object' && plain !== null ? (plain as Record<string, unknown>) : { status: 'active' };
  // XState internals the inspector never draws: keep the wire small.
  delete obj['historyValue'];
  delete obj['machine'];
  return (mask ? mask('snapshot', obj) : obj) as WireSnapshot;
}

export function plainEvent(event: unknown, mask: Masker | undefined): EventObjectLike {
  const plain = toPlain(event);
  const obj = typeof plain === 'object' && plain !== null && typeof (plain as { type?: unknown }).type === 'string' ? (plain as EventObjectLike) : { type: String((plain as { type?: unknown } | undefined)?.type ?? '') };
  return mask ? mask('event', obj) : obj;
}

interface RefLike {
  readonly id: string;
  readonly sessionId: string;
  readonly _parent?: RefLike;
  readonly logic?: { readonly config?: { readonly id?: string } };
  getSnapshot?(): unknown;
}

/** The wire id of an XState actor inside the Troupe actor at `address`: the address itself, or `address#child/...`. */
export function sessionIdOf(address: string, ref: RefLike | undefined): string | undefined {
  if (ref === undefined) return undefined;
  const path: string[] = [];
  let marker: RefLike | undefined = ref;
  while (marker?._parent !== undefined) {
    path.unshift(marker.id);
    marker = marker._parent;
  }
  return path.length === 0 ? address : `${address}#${path.join('/')}`;
}

/**
 * One full-inspection event of the actor at `address` as a wire record, or undefined for kinds we do not
 * forward. Called at seal time with the event captured earlier (XState snapshots and events are immutable).
 */
export function fromInspection(address: string, e: InspectionEvent, id: string, createdAt: string, mask: Masker | undefined): WireRecord | undefined {
  const sessionId = sessionIdOf(address, e.actorRef as unknown as RefLike) ?? address;
  const base = { sessionId, rootId: address, createdAt, id, _version: STATELY_VERSION };
  switch (e.type) {
    case '@xstate.actor': {
      const ref = e.actorRef as unknown as RefLike;
      return {
        ...base, type: '@xstate.actor', name: ref.logic?.config?.id ?? ref.id, parentId: sessionIdOf(address, ref._parent),
        definition: undefined, snapshot: plainSnapshot(ref.getSnapshot?.(), mask),
      };
    }
    case '@xstate.event':
      return { ...base, type: '@xstate.event', event: plainEvent(e.event, mask), sourceId: sessionIdOf(address, e.sourceRef as unknown as RefLike | undefined) };
    case '@xstate.snapshot':
      return { ...base, type: '@xstate.snapshot', event: plainEvent(e.event, mask), snapshot: plainSnapshot(e.snapshot, mask) };
    case '@xstate.microstep': {
      const transitions = ((e as { _transitions?: unknown[] })._transitions ?? []).map((t) => {
        const tr = t as { source?: { id?: string }; target?: Array<{ id?: string }>; eventType?: string };
        return { source: tr.source?.id ?? '', targets: (tr.target ?? []).map((n) => n.id ?? ''), eventType: tr.eventType ?? '' };
      });
      return { ...base, type: 'troupe.microstep', event: plainEvent(e.event, mask), value: toPlain((e.snapshot as { value?: unknown }).value), transitions };
    }
    case '@xstate.action': {
      const action = (e as { action?: { type?: unknown; params?: unknown } }).action;
      const params = action?.params === undefined ? undefined : toPlain(action.params);
      return { ...base, type: 'troupe.action', action: { type: String(action?.type ?? ''), params: mask && params !== undefined ? mask('event', params) : params } };
    }
    default:
      return undefined;
  }
}
