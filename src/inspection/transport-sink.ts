/**
 * Publishing a node's inspection batches on the transport (issue 5): `troupe.<system>.inspect.<node>`, so one
 * inspector subscribed to `troupe.<system>.inspect.*` shows the whole cluster. Batches are msgpack-encoded
 * `BatchMessage`s; the publish is at-most-once (a slow or absent inspector never slows the node). A batch too
 * big for one message (NATS refuses payloads over the server's `max_payload`, 1 MiB by default) goes out in
 * parts; a single record too big, or a publish the transport refuses, is counted as dropped.
 */
import { encode } from '../codec/index.js';
import type { Transport } from '../transport/transport.js';
import type { InspectionBus } from './bus.js';
import { WIRE_VERSION, type BatchMessage, type WireRecord } from './wire.js';

export interface PublishInspectionOptions {
  /** Largest message published, bytes. Default 1,000,000 (under NATS's default `max_payload` of 1 MiB). */
  readonly maxMessageBytes?: number;
}

/** The subject a node publishes its batches on; `node` `*` gives the cluster-wide pattern. */
export function inspectSubject(system: string, node: string): string {
  return `troupe.${system}.inspect.${node}`;
}

/** Publishes every batch of `bus` on the transport; returns the stop function. Counts are the bus's own. */
export function publishInspection(bus: InspectionBus, transport: Pick<Transport, 'publish'>, options: PublishInspectionOptions = {}): () => void {
  const subject = inspectSubject(bus.system, bus.node);
  const maxBytes = options.maxMessageBytes ?? 1_000_000;
  let produced = 0;
  let dropped = 0;
  const send = (batch: { node: string; seq: number; now: number }, records: readonly WireRecord[]): void => {
    const message: BatchMessage = {
      t: 'batch', v: WIRE_VERSION, node: batch.node, seq: batch.seq, now: batch.now, records,
      counts: { produced: produced + records.length, delivered: produced + records.length - dropped, dropped },
    };
    const bytes = encode(message);
    if (bytes.byteLength > maxBytes && records.length > 1) {
      const half = Math.ceil(records.length / 2);
      send(batch, records.slice(0, half));
      return send(batch, records.slice(half));
    }
    produced += records.length;
    try {
      if (bytes.byteLength > maxBytes) throw new RangeError('one record over maxMessageBytes');
      transport.publish(subject, bytes);
    } catch {
      // Over the size limit, or refused by the transport: dropped and counted (at-most-once, never thrown).
      dropped += records.length;
    }
  };
  return bus.subscribe({
    batch: (batch) => send(batch, batch.records),
    lost: (count) => {
      produced += count;
      dropped += count;
    },
  });
}
