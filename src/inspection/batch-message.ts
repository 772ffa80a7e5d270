/**
 * Reading a node's inspection batch off the wire (issue 5): `troupe.<system>.inspect.<node>` carries
 * msgpack-encoded `BatchMessage`s from other processes, so nothing in them is trusted. `parseBatchMessage`
 * decodes with the codec and checks every field that a consumer (the inspector's per-node cache, the UI)
 * reads; anything else — undecodable bytes, a wrong version, a malformed record, values JSON cannot carry —
 * is refused with a reason, never thrown.
 */
import { decode } from '../codec/index.js';
import { WIRE_VERSION, type BatchMessage } from './wire.js';

export interface ParseBatchLimits {
  /** Records per batch. Default 10,000 (a bus seals at 1,000). */
  readonly maxRecords?: number;
}

export type ParsedBatch =
  | { readonly ok: true; readonly batch: BatchMessage; /** `JSON.stringify(batch.records)`: proof it is JSON-safe. */ readonly recordsJson: string }
  | { readonly ok: false; readonly reason: string };

const NODE = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * Decodes and validates one batch; `expectedNode` (the subject's last token) must match the batch's node.
 * @example
 * const parsed = parseBatchMessage(message.data, subject.slice(prefix.length));
 * if (parsed.ok) forward(parsed.batch); else garbage++;
 */
export function parseBatchMessage(bytes: Uint8Array, expectedNode?: string, limits: ParseBatchLimits = {}): ParsedBatch {
  let value: unknown;
  try {
    value = decode(bytes);
  } catch {
    return refuse(`undecodable bytes (${bytes.byteLength} B)`);
  }
  if (!isMap(value)) return refuse('not a map');
  if (value['t'] !== 'batch') return refuse('t is not "batch"');
  if (value['v'] !== WIRE_VERSION) return refuse(`unsupported wire version ${safe(value['v'])} (expected ${WIRE_VERSION})`);
  const node = value['node'];
  if (typeof node !== 'string' || !NODE.test(node)) return refuse('node must match [A-Za-z0-9_-]{1,128}');
  if (expectedNode !== undefined && node !== expectedNode) return refuse(`node ${node} published on the subject of ${expectedNode}`);
  if (!isCount(value['seq']) || !isFiniteNumber(value['now'])) return refuse('seq and now must be numbers');
  const counts = value['counts'];
  if (!isMap(counts) || !isCount(counts['produced']) || !isCount(counts['delivered']) || !isCount(counts['dropped'])) return refuse('counts must hold produced, delivered, dropped');
  const records = value['records'];
  if (!Array.isArray(records)) return refuse('records must be an array');
  if (records.length > (limits.maxRecords ?? 10_000)) return refuse(`${records.length} records, over the limit of ${limits.maxRecords ?? 10_000}`);
  for (let i = 0; i < records.length; i++) {
    const problem = recordProblem(records[i]);
    if (problem !== undefined) return refuse(`records[${i}]: ${problem}`);
  }
  let recordsJson: string;
  try {
    recordsJson = JSON.stringify(records);
  } catch {
    return refuse('records are not JSON-safe');
  }
  return { ok: true, batch: value as unknown as BatchMessage, recordsJson };
}

/** What is wrong with one record, or undefined when a consumer can read it. */
function recordProblem(r: unknown): string | undefined {
  if (!isMap(r)) return 'not a map';
  if (typeof r['id'] !== 'string') return 'id must be a string';
  switch (r['type']) {
    case '@xstate.actor':
      if (typeof r['name'] !== 'string' || !optionalString(r['parentId']) || !optionalString(r['definition'])) return 'actor: name, parentId, definition';
      return stately(r) ?? (isMap(r['snapshot']) ? undefined : 'snapshot must be a map');
    case '@xstate.snapshot':
      return stately(r) ?? (isMap(r['snapshot']) && isEvent(r['event']) ? undefined : 'snapshot and event must be maps');
    case '@xstate.event':
      return stately(r) ?? (isEvent(r['event']) && optionalString(r['sourceId']) ? undefined : 'event must be a map with a type');
    case 'troupe.microstep': {
      const transitions = r['transitions'];
      if (!Array.isArray(transitions) || !transitions.every((t) => isMap(t) && typeof t['source'] === 'string' && Array.isArray(t['targets']) && t['targets'].every((x) => typeof x === 'string'))) {
        return 'microstep: transitions';
      }
      return stately(r) ?? (isEvent(r['event']) ? undefined : 'event must be a map with a type');
    }
    case 'troupe.action':
      return stately(r) ?? (isEvent(r['action']) ? undefined : 'action must be a map with a type');
    case 'troupe.runtime': {
      const event = r['event'];
      if (typeof r['node'] !== 'string' || !isEvent(event) || !isFiniteNumber(event['ts'])) return 'runtime: node, event.type, event.ts';
      return undefined;
    }
    case 'troupe.trace':
      if (typeof r['workflowId'] !== 'string' || !isCount(r['index']) || !isMap(r['entry'])) return 'trace: workflowId, index, entry';
      return undefined;
    default:
      return `unknown record type ${safe(r['type'])}`;
  }
}

function stately(r: Record<string, unknown>): string | undefined {
  if (typeof r['sessionId'] !== 'string' || r['sessionId'].length === 0) return 'sessionId must be a non-empty string';
  if (!optionalString(r['rootId']) || typeof r['createdAt'] !== 'string') return 'rootId and createdAt must be strings';
  return undefined;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

function isEvent(value: unknown): value is Record<string, unknown> & { type: string } {
  return isMap(value) && typeof value['type'] === 'string';
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function optionalString(value: unknown): boolean {
  return value === undefined || value === null || typeof value === 'string';
}

function safe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value;
}

function refuse(reason: string): ParsedBatch {
  return { ok: false, reason };
}
