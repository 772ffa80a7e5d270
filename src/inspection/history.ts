/**
 * The inspection history (issue 14): a bounded ring of the batches a bus sealed, kept from the moment it
 * subscribes (the inspector subscribes it at start), so a page opened late, or reloaded, first gets what
 * happened before it connected. Bounded by records and by bytes; the oldest batches go first. Each batch is
 * kept as the JSON the bus made for its sinks anyway (`recordsJson()`), so keeping it costs no serialization
 * of its own and sending it is string concatenation.
 */
import { InvalidConfigError } from '../errors.js';
import type { BatchSink, SealedBatch } from './bus.js';
import { WIRE_VERSION } from './wire.js';

export interface InspectionHistoryOptions {
  /** Records kept (0 keeps none). Default 5,000. */
  readonly maxRecords?: number;
  /** Bytes of record JSON kept. Default 4 MiB. */
  readonly maxBytes?: number;
}

export interface InspectionHistoryStats {
  readonly records: number;
  readonly bytes: number;
  readonly batches: number;
  /** Records that left the ring to make room. */
  readonly evicted: number;
  /** Records the bus dropped before they reached the ring (its backlog was full). */
  readonly lost: number;
}

interface Kept {
  readonly json: string;
  readonly count: number;
}

export class InspectionHistory implements BatchSink {
  readonly maxRecords: number;
  readonly maxBytes: number;
  private kept: Kept[] = [];
  private head = 0;
  private records = 0;
  private bytes = 0;
  private evicted = 0;
  private lostCount = 0;

  constructor(options: InspectionHistoryOptions = {}) {
    this.maxRecords = options.maxRecords ?? 5_000;
    this.maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
    if (!Number.isInteger(this.maxRecords) || this.maxRecords < 0) throw new InvalidConfigError('history.maxRecords', `must be an integer >= 0, got ${String(options.maxRecords)}`);
    if (!Number.isInteger(this.maxBytes) || this.maxBytes < 0) throw new InvalidConfigError('history.maxBytes', `must be an integer >= 0, got ${String(options.maxBytes)}`);
  }

  batch(batch: SealedBatch): void {
    if (this.maxRecords === 0 || batch.records.length === 0) return;
    const json = batch.recordsJson();
    this.kept.push({ json, count: batch.records.length });
    this.records += batch.records.length;
    this.bytes += json.length;
    while (this.head < this.kept.length && (this.records > this.maxRecords || this.bytes > this.maxBytes)) {
      const oldest = this.kept[this.head++]!;
      this.records -= oldest.count;
      this.bytes -= oldest.json.length;
      this.evicted += oldest.count;
    }
    // Compact now and then, so the array does not grow with the evicted heads.
    if (this.head > 64 && this.head * 2 > this.kept.length) {
      this.kept = this.kept.slice(this.head);
      this.head = 0;
    }
  }

  lost(count: number): void {
    this.lostCount += count;
  }

  /** The kept records, oldest first, as one JSON array. */
  recordsJson(): string {
    const parts: string[] = [];
    for (let i = this.head; i < this.kept.length; i++) {
      const json = this.kept[i]!.json;
      if (json.length > 2) parts.push(json.slice(1, -1));
    }
    return `[${parts.join(',')}]`;
  }

  /** The `history` message a UI client gets first (see `HistoryMessage`). */
  messageJson(node: string): string {
    return `{"t":"history","v":${WIRE_VERSION},"node":${JSON.stringify(node)},"evicted":${this.evicted},"records":${this.recordsJson()}}`;
  }

  stats(): InspectionHistoryStats {
    return { records: this.records, bytes: this.bytes, batches: this.kept.length - this.head, evicted: this.evicted, lost: this.lostCount };
  }
}
