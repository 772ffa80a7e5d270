/**
 * The system's event stream: every runtime happening as a plain-data record with an `rt.*` type.
 * Publishing costs one size check when nobody listens (xstate's sendInspectionEvent pattern).
 * A throwing listener is isolated: it is removed from this publish and its error rethrown on a fresh
 * macrotask would kill Node, so it is reported to `onListenerError` instead.
 */
import type { PlainError } from '../errors.js';
import type { StopReason } from './parent.js';

export type Directive = 'restart' | 'resume' | 'stop' | 'escalate';

export type RuntimeEvent =
  | { type: 'rt.actor.spawned'; address: string; logic: string; parent: string; ts: number }
  | { type: 'rt.actor.stopped'; address: string; reason: StopReason; ts: number }
  | { type: 'rt.actor.failed'; address: string; kind: string; error: PlainError; ts: number }
  | { type: 'rt.actor.restarted'; address: string; incarnation: number; mode: 'initial' | 'last-good'; redelivered: number; ts: number }
  | { type: 'rt.supervisor.started'; address: string; parent: string; strategy: string; ts: number }
  | {
      type: 'rt.supervisor.decision';
      supervisor: string;
      child: string;
      reason: PlainError;
      directive: Directive;
      restartCount: number;
      affected: string[];
      delayMs: number;
      ts: number;
    }
  | { type: 'rt.supervisor.failed'; supervisor: string; reason: PlainError; ts: number }
  | { type: 'rt.deadLetter'; to: string; from?: string; eventType: string; reason: string; count: number; ts: number }
  | { type: 'rt.system.failed'; system: string; report: PlainError; ts: number }
  /**
   * This node took a mailbox shard's lease (`from`: the node whose lease expired or whose process is gone), handed
   * one over (`released`), or lost one to another node (`to`) after a pause or a partition (issue 9).
   */
  | { type: 'rt.cluster.shard'; change: 'acquired' | 'released' | 'lost'; shard: number; epoch: number; node: string; from?: string; to?: string; ts: number }
  /** Another node of the system joined, or left: shut down, or its heartbeat lease expired (killed, paused, cut off). */
  | { type: 'rt.cluster.member'; change: 'joined' | 'left'; node: string; reason?: 'shutdown' | 'lease-expired'; ts: number }
  | { type: 'rt.system.shutdown'; system: string; ts: number };

export type RuntimeEventType = RuntimeEvent['type'];
export type RuntimeEventListener = (event: RuntimeEvent) => void;

export class EventStream {
  private readonly listeners = new Set<RuntimeEventListener>();

  constructor(private readonly onListenerError: (error: unknown) => void = () => {}) {}

  /** True when someone listens: callers skip building events otherwise. */
  get active(): boolean {
    return this.listeners.size > 0;
  }

  publish(event: RuntimeEvent): void {
    if (this.listeners.size === 0) return;
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }

  /** Listens to every runtime event; returns the unsubscribe function. */
  subscribe(listener: RuntimeEventListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
}
