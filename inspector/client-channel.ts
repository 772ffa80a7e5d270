/**
 * One UI client's stream (issue 5): a bounded sender. A batch is sent only while the socket's unsent bytes
 * (`bufferedAmount`) plus the batch stay within `maxBufferedBytes`; otherwise the batch is dropped and
 * counted, and the channel keeps dropping until everything it sent has been written out — then it sends a
 * `resync` with the current state and streams again. So a slow or stalled client never slows the system and
 * never grows the server's memory past its cap; at every point `delivered + dropped = produced`. Batches of
 * remote nodes (cluster-relay.ts) go through the same channel and count the same; a resync is one message
 * per node: the local one, then each remote node's cached state.
 */
import type { WebSocket } from 'ws';
import type { BatchSink, InspectionBus, SealedBatch } from '../src/index.js';
import type { ChannelStats } from './channel-stats.js';
import type { ResyncMessage, ServerMessage, StatelyRecord } from '../src/inspection/wire.js';
import type { RemoteSource } from './cluster-relay.js';
import type { ClientHold } from './inspect-control.js';

export type { ChannelStats } from './channel-stats.js';

export class ClientChannel implements BatchSink {
  produced = 0;
  delivered = 0;
  dropped = 0;
  resyncs = 0;
  peakBufferedBytes = 0;
  private dropping = false;
  private inFlight = 0;
  private resyncScheduled = false;
  private unsubscribe: (() => void) | undefined;
  private unsubscribeRemote: (() => void) | undefined;
  /** Actors this client switched full inspection on for, here or on their node (switched off when it leaves). */
  readonly inspecting = new Map<string, ClientHold>();

  constructor(
    readonly id: number,
    private readonly ws: WebSocket,
    private readonly bus: InspectionBus,
    private readonly maxBufferedBytes: number,
    private readonly external: () => readonly StatelyRecord[],
    private readonly remote?: RemoteSource,
    /** The `history` message (JSON) of what this node recorded before the client came. */
    private readonly history?: () => string,
  ) {}

  /** Subscribes to the bus and sends the history, then the first resync (synchronously: no batch falls between). */
  open(): void {
    this.unsubscribe = this.bus.subscribe(this);
    const history = this.history?.();
    if (history !== undefined && this.ws.readyState === this.ws.OPEN) this.send(Buffer.from(history));
    this.unsubscribeRemote = this.remote?.subscribe(this);
    this.sendResync('hello');
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.unsubscribeRemote?.();
    this.unsubscribeRemote = undefined;
    for (const hold of this.inspecting.values()) hold.release();
    this.inspecting.clear();
  }

  batch(batch: SealedBatch): void {
    const json = batch.recordsJson();
    // A batch bigger than a quarter of the cap goes out in parts, so one batch alone never exceeds the cap.
    const limit = this.maxBufferedBytes / 4;
    if (json.length <= limit || batch.records.length < 2) return this.offer(batch, batch.records.length, json);
    const parts = Math.min(batch.records.length, Math.ceil(json.length / limit));
    const size = Math.ceil(batch.records.length / parts);
    for (let i = 0; i < batch.records.length; i += size) {
      const part = batch.records.slice(i, i + size);
      this.offer(batch, part.length, JSON.stringify(part));
    }
  }

  private offer(batch: SealedBatch, count: number, recordsJson: string): void {
    this.produced += count;
    if (this.dropping || this.ws.readyState !== this.ws.OPEN) {
      this.dropped += count;
      return;
    }
    const counts = { produced: this.produced, delivered: this.delivered + count, dropped: this.dropped };
    const head = `{"t":"batch","v":1,"node":${JSON.stringify(batch.node)},"seq":${batch.seq},"now":${batch.now},"counts":${JSON.stringify(counts)},"records":`;
    const bytes = Buffer.from(`${head}${recordsJson}}`);
    if (this.ws.bufferedAmount + bytes.byteLength > this.maxBufferedBytes) {
      this.dropped += count;
      this.startDropping();
      return;
    }
    this.delivered += count;
    this.send(bytes);
  }

  lost(count: number): void {
    this.produced += count;
    this.dropped += count;
    this.startDropping();
  }

  /** Sends one message that is not a batch (a reply, a definition). */
  reply(message: ServerMessage): void {
    if (this.ws.readyState === this.ws.OPEN) this.send(Buffer.from(JSON.stringify(message)));
  }

  requestResync(): void {
    this.sendResync('requested');
  }

  stats(): ChannelStats {
    return {
      id: this.id, produced: this.produced, delivered: this.delivered, dropped: this.dropped, maxBufferedBytes: this.maxBufferedBytes,
      peakBufferedBytes: this.peakBufferedBytes, resyncs: this.resyncs, dropping: this.dropping,
    };
  }

  /** The actors of a remote node this client holds full inspection of (its records do not say). */
  private heldOn(node: string): string[] {
    const addresses: string[] = [];
    for (const [address, hold] of this.inspecting) if (hold.node === node) addresses.push(address);
    return addresses;
  }

  private send(bytes: Buffer): void {
    this.inFlight++;
    this.ws.send(bytes, { binary: false }, () => {
      this.inFlight--;
      if (this.inFlight === 0 && this.dropping) this.scheduleResync();
    });
    const buffered = this.ws.bufferedAmount;
    if (buffered > this.peakBufferedBytes) this.peakBufferedBytes = buffered;
  }

  private startDropping(): void {
    this.dropping = true;
    if (this.inFlight === 0) this.scheduleResync();
  }

  /** Once everything sent has been written out: the current state, then streaming again. */
  private scheduleResync(): void {
    if (this.resyncScheduled) return;
    this.resyncScheduled = true;
    setImmediate(() => {
      this.resyncScheduled = false;
      if (this.ws.readyState !== this.ws.OPEN || !this.dropping || this.inFlight > 0) return;
      this.dropping = false;
      this.sendResync('drained');
    });
  }

  private sendResync(reason: ResyncMessage['reason']): void {
    this.resyncs++;
    const counts = { produced: this.produced, delivered: this.delivered, dropped: this.dropped };
    const message: ResyncMessage = { ...this.bus.state(), reason, external: this.external(), counts };
    this.reply(message);
    for (const state of this.remote?.states() ?? []) this.reply({ ...state, inspected: this.heldOn(state.node), reason, counts });
  }
}
