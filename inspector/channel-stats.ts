/**
 * One UI client's counters (`inspector.stats().clients`). Its own module so the public declarations of
 * `troupe/inspector` do not import client-channel.ts, whose types name `ws` (only a dev dependency's types):
 * a consumer compiling with `skipLibCheck: false` would otherwise need `@types/ws`.
 */
import type { ConsumerCounts } from '../src/inspection/wire.js';

export interface ChannelStats extends ConsumerCounts {
  readonly id: number;
  readonly maxBufferedBytes: number;
  /** The largest `bufferedAmount` seen right after a send. */
  readonly peakBufferedBytes: number;
  readonly resyncs: number;
  readonly dropping: boolean;
}
