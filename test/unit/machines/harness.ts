/**
 * A miniature router for machine tests: actors on one SimulatedClock, emitted tells/asks/replies routed by
 * address the way the Troupe runtime routes them, trace entries collected per workflow, and each actor's state
 * path recorded from its snapshots. Time moves only when a test advances the clock.
 */
import { createActor, SimulatedClock, type AnyActorLogic, type AnyActorRef, type Snapshot, type StateValue } from 'xstate';
import { ASK_EMITTED, REPLY_EMITTED, TELL_EMITTED, TRACE_EMITTED, type AskEmitted, type TellEmitted, type TraceEmitted } from '../../../machines/emit.js';
import type { TraceEntry } from '../../../machines/trace.js';

type Actor = AnyActorRef & { getPersistedSnapshot(): Snapshot<unknown>; getSnapshot(): { value?: StateValue; status: string; context?: unknown; output?: unknown } };

export interface Net {
  readonly clock: SimulatedClock;
  readonly trace: TraceEntry[];
  /** Tells whose address has no actor here (what the runtime would dead-letter or deliver elsewhere). */
  readonly outbox: Array<{ from: string; to: string; event: { type: string } & Record<string, unknown> }>;
  add(address: string, logic: AnyActorLogic, options?: { input?: unknown; snapshot?: unknown }): Actor;
  remove(address: string): void;
  get(address: string): Actor;
  /** Distinct state values of an actor, in order, as dotted paths. */
  path(address: string): string[];
  /** Lets promises settle (invoked work resolves through microtasks and I/O callbacks). */
  settle(): Promise<void>;
  /** Advances the clock by `ms`, then settles. */
  advance(ms: number): Promise<void>;
}

export function createNet(start = 1_000_000): Net {
  const clock = new SimulatedClock();
  clock.set(start);
  const actors = new Map<string, Actor>();
  const paths = new Map<string, string[]>();
  const pendingAsks = new Map<string, Array<{ from: string; replyType: string }>>();
  const trace: TraceEntry[] = [];
  const outbox: Net['outbox'] = [];

  function route(from: string, emitted: { type: string }): void {
    if (emitted.type === TRACE_EMITTED) trace.push((emitted as TraceEmitted).entry as unknown as TraceEntry);
    else if (emitted.type === TELL_EMITTED) {
      const { to, event } = emitted as TellEmitted;
      const target = actors.get(to);
      if (target === undefined) outbox.push({ from, to, event: event as never });
      else target.send(event);
    } else if (emitted.type === ASK_EMITTED) {
      const { to, event, replyType } = emitted as AskEmitted;
      const target = actors.get(to);
      if (target === undefined) {
        actors.get(from)?.send({ type: replyType, ok: false, error: { _tag: 'TroupeError', name: 'DeadLetterError', code: 'TROUPE_DEAD_LETTER', message: `no actor at ${to}` } });
        return;
      }
      const queue = pendingAsks.get(to) ?? [];
      queue.push({ from, replyType });
      pendingAsks.set(to, queue);
      target.send(event);
    } else if (emitted.type === REPLY_EMITTED) {
      const asker = pendingAsks.get(from)?.shift();
      if (asker !== undefined) actors.get(asker.from)?.send({ type: asker.replyType, ok: true, payload: (emitted as unknown as { payload: unknown }).payload });
    }
  }

  const net: Net = {
    clock,
    trace,
    outbox,
    add(address, logic, options = {}) {
      const actor = createActor(logic, { clock, input: options.input, snapshot: options.snapshot as never, id: address }) as unknown as Actor;
      actors.set(address, actor);
      const path = paths.get(address) ?? [];
      paths.set(address, path);
      actor.on('*', (emitted: { type: string }) => route(address, emitted));
      actor.subscribe({
        next: (snapshot: { value?: StateValue }) => {
          const p = pathOf(snapshot.value);
          if (path[path.length - 1] !== p) path.push(p);
        },
        error: (err: unknown) => { throw err; },
      });
      actor.start();
      const p = pathOf(actor.getSnapshot().value);
      if (path[path.length - 1] !== p) path.push(p);
      return actor;
    },
    remove(address) {
      actors.get(address)?.stop();
      actors.delete(address);
    },
    get(address) {
      const actor = actors.get(address);
      if (actor === undefined) throw new Error(`no actor ${address}`);
      return actor;
    },
    path: (address) => paths.get(address) ?? [],
    async settle() {
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    },
    async advance(ms) {
      clock.increment(ms);
      await net.settle();
    },
  };
  return net;
}

/** `{ history: 'running' }` -> `history.running`; parallel regions as `{a.x|b.y}`. */
export function pathOf(value: StateValue | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  const entries = Object.entries(value);
  if (entries.length === 1) {
    const [key, child] = entries[0] as [string, StateValue];
    return `${key}.${pathOf(child)}`;
  }
  return `{${entries.map(([key, child]) => `${key}.${pathOf(child)}`).join('|')}}`;
}

/** Compact trace lines for exact assertions: `step:from->to(outcome)`. */
export function traceLines(trace: readonly TraceEntry[], kinds: readonly string[] = ['step', 'workflow', 'compensation']): string[] {
  return trace.filter((e) => kinds.includes(e.kind)).map((e) => `${e.kind === 'workflow' ? 'workflow' : e.step}${e.kind === 'compensation' ? '~c' : ''}:${e.from}->${e.to}(${e.outcome})`);
}
