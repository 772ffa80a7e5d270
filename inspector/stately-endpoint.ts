/**
 * The receiving end for any XState v5 app using `@statelyai/inspect`'s WebSocket inspector (issue 5):
 * `createWebSocketInspector({ url: 'ws://127.0.0.1:<port>/stately?token=<token>' })`. Such clients send no
 * Origin (the token in the query authenticates them) and one JSON record per message. Records are checked,
 * their session ids put under `ext-<n>:` (so they never collide with Troupe addresses), passed to the bus,
 * and the latest actor and snapshot record of each session is kept (bounded) for resyncs. When an app
 * disconnects, each of its actors still shown active gets a last snapshot record with status `stopped` (issue 14: an
 * app that went away must not look alive for ever); `clearStopped()` forgets them.
 */
import type { RawData, WebSocket } from 'ws';
import type { InspectionBus } from '../src/index.js';
import type { StatelyRecord } from '../src/inspection/wire.js';

const TYPES = new Set(['@xstate.actor', '@xstate.event', '@xstate.snapshot']);
export const MAX_SESSIONS = 500;

export class StatelyEndpoint {
  private connections = 0;
  private readonly latest = new Map<string, { actor?: StatelyRecord; snapshot?: StatelyRecord }>();
  received = 0;
  rejected = 0;

  constructor(private readonly bus: InspectionBus) {}

  accept(ws: WebSocket): void {
    const prefix = `ext-${++this.connections}:`;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const record = isBinary ? undefined : parse(data.toString(), prefix);
      if (record === undefined) {
        this.rejected++;
        return;
      }
      this.received++;
      this.remember(record);
      this.bus.ingest([record]);
    });
    ws.on('close', () => this.disconnected(prefix));
  }

  /** Marks every session of a closed connection stopped, for the pages open now and for later resyncs. */
  private disconnected(prefix: string): void {
    const stopped: StatelyRecord[] = [];
    for (const [sessionId, entry] of this.latest) {
      if (!sessionId.startsWith(prefix)) continue;
      const last = entry.snapshot ?? entry.actor;
      const snapshot = (last as { snapshot?: Record<string, unknown> } | undefined)?.snapshot ?? {};
      if (snapshot['status'] === 'stopped' || snapshot['status'] === 'done' || snapshot['status'] === 'error') continue;
      const record = {
        type: '@xstate.snapshot', sessionId, rootId: (last as { rootId?: string } | undefined)?.rootId, createdAt: String(Date.now()), id: '', _version: '',
        event: { type: 'troupe.app.disconnected' }, snapshot: { ...snapshot, status: 'stopped' },
      } as unknown as StatelyRecord;
      entry.snapshot = record;
      stopped.push(record);
    }
    if (stopped.length > 0) this.bus.ingest(stopped);
  }

  /** Forgets the sessions whose app disconnected (each page drops them itself). */
  clearStopped(): void {
    for (const [sessionId, entry] of this.latest) {
      if ((entry.snapshot as { snapshot?: { status?: unknown } } | undefined)?.snapshot?.status === 'stopped') this.latest.delete(sessionId);
    }
  }

  /** Latest actor and snapshot records of the external sessions. */
  records(): StatelyRecord[] {
    const out: StatelyRecord[] = [];
    for (const { actor, snapshot } of this.latest.values()) {
      if (actor) out.push(actor);
      if (snapshot) out.push(snapshot);
    }
    return out;
  }

  private remember(record: StatelyRecord): void {
    if (record.type === '@xstate.event') return;
    const entry = this.latest.get(record.sessionId) ?? {};
    if (record.type === '@xstate.actor') entry.actor = record;
    else entry.snapshot = record;
    this.latest.delete(record.sessionId);
    this.latest.set(record.sessionId, entry);
    if (this.latest.size > MAX_SESSIONS) this.latest.delete(this.latest.keys().next().value as string);
  }
}

function parse(text: string, prefix: string): StatelyRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Record<string, unknown>;
  if (typeof r['type'] !== 'string' || !TYPES.has(r['type']) || typeof r['sessionId'] !== 'string' || r['sessionId'].length > 200) return undefined;
  const scoped = (id: unknown) => (typeof id === 'string' && id.length > 0 ? `${prefix}${id}` : undefined);
  const base = {
    ...r, sessionId: `${prefix}${r['sessionId']}`, rootId: scoped(r['rootId']), createdAt: String(r['createdAt'] ?? Date.now()),
    id: String(r['id'] ?? ''), _version: String(r['_version'] ?? ''),
  };
  if (r['type'] === '@xstate.actor') {
    return { ...base, type: '@xstate.actor', name: String(r['name'] ?? r['sessionId']), parentId: scoped(r['parentId']), definition: typeof r['definition'] === 'string' ? r['definition'] : undefined, snapshot: objectOr(r['snapshot']) } as StatelyRecord;
  }
  if (r['type'] === '@xstate.event') return { ...base, type: '@xstate.event', event: eventOf(r['event']), sourceId: scoped(r['sourceId']) } as StatelyRecord;
  return { ...base, type: '@xstate.snapshot', event: eventOf(r['event']), snapshot: objectOr(r['snapshot']) } as StatelyRecord;
}

function objectOr(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : { status: 'active' };
}

function eventOf(value: unknown): { type: string } {
  const e = objectOr(value);
  return typeof e['type'] === 'string' ? (e as { type: string }) : { ...e, type: '' };
}
