/**
 * Publishing a node's inspection batches on the transport (issue 5): `troupe.<system>.inspect.<node>`, so one
 * inspector subscribed to `troupe.<system>.inspect.*` shows the whole cluster. Batches are msgpack-encoded
 * `BatchMessage`s; the publish is at-most-once (a slow or absent inspector never slows the node).
 */
import { encode } from '../codec/index.js';
import type { Transport } from '../transport/transport.js';
import type { InspectionBus } from './bus.js';
import { WIRE_VERSION, type BatchMessage } from './wire.js';

/** The subject a node publishes its batches on; `node` `*` gives the cluster-wide pattern. */
export function inspectSubject(system: string, node: string): string {
  return `troupe.${system}.inspect.${node}`;
}

/** Publishes every batch of `bus` on the transport; returns the stop function. Counts are the bus's own. */
export function publishInspection(bus: InspectionBus, transport: Pick<Transport, 'publish'>): () => void {
  const subject = inspectSubject(bus.system, bus.node);
  let produced = 0;
  let dropped = 0;
  return bus.subscribe({
    batch: (batch) => {
      produced += batch.records.length;
      const message: BatchMessage = {
        t: 'batch', v: WIRE_VERSION, node: batch.node, seq: batch.seq, now: batch.now, records: batch.records,
        counts: { produced, delivered: produced - dropped, dropped },
      };
      transport.publish(subject, encode(message));
    },
    lost: (count) => {
      produced += count;
      dropped += count;
    },
  });
}
