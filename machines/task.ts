/**
 * A state's task: the work a workflow state runs while it is active — a step's attempt, its fallback, its
 * verifier, a handoff's summary — started by the state's entry action and abandoned by its exit, with its result
 * sent back to the workflow as an event of the state's own.
 *
 * Not an invoked XState child: a child actor costs a spawn, a start and a stop of its own per attempt, and a copy of
 * the parent's children map at each (an A/B of ten-step workflows measured the workflow 1.44 times faster durable,
 * 1.57 times in memory, without). What invoke gave is kept:
 * - the implementation is still named in `setup({ actors })` as promise logic, so `machine.provide({ actors })`
 *   swaps it (`fromPromise(fn)`: its function is called as `fromPromise` would call it, with the workflow as `self`);
 * - a state left while its task runs (a timeout, a cancel) aborts the task's `signal`, and its late result is
 *   never sent;
 * - a snapshot restored with a task's state active runs the task again (`withTasks`): at-least-once, as XState
 *   restarts an invoked promise on restore; a step's restarted attempt gets `recovered: true`.
 * The signal's `AbortController` is made only when the work reads `signal` (most never do).
 */
import type { AnyActorRef, AnyEventObject, AnyStateMachine } from 'xstate';
import { InvalidConfigError } from '../src/errors.js';
import { TASK_DONE, TASK_ERROR } from './task-events.js';

export interface TaskSpec<C> {
  /** Unique in the machine, e.g. `run:s0`: names the state's tag and result events. */
  readonly key: string;
  /** The implementation's name in `setup({ actors })`. */
  readonly src: string;
  /** The input the work gets, from the context the state was entered with. */
  readonly input: (context: C) => unknown;
  /** A run restarted from a restored snapshot says so (`recovered: true` in its input). */
  readonly recoverable: boolean;
}

/**
 * A spec with the names built from its key, once per machine rather than per run: its result events (`{ type,
 * output }` when the promise resolves, `{ type, error }` when it rejects) and the tag of its state, which marks the
 * states whose task runs for the restart after a restore (a tag is XState's public per-state mark).
 */
interface Task<C> {
  readonly spec: TaskSpec<C>;
  readonly done: string;
  readonly error: string;
  readonly tag: string;
}

function named<C>(spec: TaskSpec<C>): Task<C> {
  return { spec, done: `${TASK_DONE}.${spec.key}`, error: `${TASK_ERROR}.${spec.key}`, tag: `troupe.task:${spec.key}` };
}

/** What `fromPromise` passes its function; `signal` is made on first read. */
interface PromiseCreatorArgs {
  readonly input: unknown;
  readonly self: AnyActorRef;
  readonly system: unknown;
  readonly signal: AbortSignal;
  readonly emit: (event: AnyEventObject) => void;
}

/** A task has no listeners of its own, as an invoked promise child had none: what it emits goes nowhere. */
const emitNowhere = (): void => {};

type PromiseCreator = (args: PromiseCreatorArgs) => unknown;

/** One run of a task; `stop` is its exit (the state was left): the result is dropped and the signal aborted. */
class Run {
  stopped = false;
  private controller: AbortController | undefined;

  /** Made on first read; already aborted when read after the state was left. */
  signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.stopped) this.controller.abort();
    }
    return this.controller.signal;
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
  }
}

/** The run behind a task's arguments (`taskStopped`). */
const RUN = Symbol('troupe.task.run');

/** Whether the state of the task these are the arguments of was left (or its actor stopped). */
export function taskStopped(args: object): boolean {
  return (args as { [RUN]?: Run })[RUN]?.stopped === true;
}

/** The runs of each actor's active task states, by task key. */
const runs = new WeakMap<AnyActorRef, Map<string, Run>>();

/**
 * The state that runs the task: its entry starts it, its exit abandons it, its tag marks it, and `onDone` and
 * `onError` take its result events, beside the state's other handlers (`on`).
 */
export function taskState<C>(spec: TaskSpec<C>, onDone: unknown, onError: unknown, on: Record<string, unknown> = {}): Record<string, unknown> {
  const task = named(spec);
  return {
    entry: ({ context, self }: { context: C; self: AnyActorRef }) => startTask(task, self, spec.input(context)),
    exit: ({ self }: { self: AnyActorRef }) => {
      const active = runs.get(self);
      active?.get(spec.key)?.stop();
      active?.delete(spec.key);
    },
    tags: [task.tag],
    on: { [task.done]: onDone, [task.error]: onError, ...on },
  };
}

function startTask<C>(task: Task<C>, self: AnyActorRef, input: unknown): void {
  const spec = task.spec;
  let active = runs.get(self);
  if (active === undefined) runs.set(self, (active = new Map()));
  active.get(spec.key)?.stop();
  const run = new Run();
  active.set(spec.key, run);
  const args: PromiseCreatorArgs & { [RUN]: Run } = {
    input,
    self,
    system: self.system,
    get signal() {
      return run.signal();
    },
    emit: emitNowhere,
    [RUN]: run,
  };
  // A microtask later: the work never runs inside the transition that entered its state (an invoked child
  // started after it too), and what it throws, a bad implementation included, is its error event. A state left
  // in the same turn (a cancel sent with the start) never starts its work.
  Promise.resolve(args).then((a) => (run.stopped ? undefined : creatorOf(self, spec.src)(a))).then(
    (output) => {
      if (!run.stopped) finish(self, spec.key, run, { type: task.done, output });
    },
    (reason: unknown) => {
      if (!run.stopped) finish(self, spec.key, run, { type: task.error, error: reason });
    },
  );
}

function finish(self: AnyActorRef, key: string, run: Run, event: AnyEventObject): void {
  const active = runs.get(self);
  if (active?.get(key) === run) active.delete(key);
  self.send(event);
}

/** The actor stopped (XState runs no exit action then): its tasks' signals abort and their results are dropped. */
function stopAll(self: AnyActorRef): void {
  const active = runs.get(self);
  if (active === undefined) return;
  for (const run of active.values()) run.stop();
  runs.delete(self);
}

/**
 * The work named `src` in the actor's machine, as provided: promise logic, whose function `fromPromise` keeps as the
 * logic's `config` (a public field of ActorLogic; task.test.ts's `provide()` test fails if that changes).
 */
function creatorOf(self: AnyActorRef, src: string): PromiseCreator {
  const machine = (self as { logic?: AnyStateMachine }).logic;
  const logic = machine?.implementations.actors[src] as { config?: unknown } | undefined;
  if (typeof logic?.config !== 'function') throw new InvalidConfigError(`actors.${src}`, 'must be promise logic (fromPromise) to run as a workflow task');
  return logic.config as PromiseCreator;
}

interface MachineSnapshotLike {
  readonly status: string;
  readonly context: unknown;
  hasTag(tag: string): boolean;
}

export interface TaskHost {
  /** Whether the actor has a task in flight. */
  readonly troupeBusy: (actor: AnyActorRef) => boolean;
}

/**
 * Runs the tasks of the states a restored snapshot has active, when the actor starts (XState re-runs no entry
 * action on restore). A stored snapshot's invoked children of these tasks (written before tasks, while they were
 * XState children) are dropped as it is restored: the restart replaces them, so none runs twice.
 */
export function withTasks<T extends AnyStateMachine>(machine: T, specs: readonly TaskSpec<never>[]): T & TaskHost {
  const tasks = specs.map(named);
  const sources = new Set(specs.map((spec) => spec.src));
  const restored = new WeakSet<object>();
  const restore = machine.restoreSnapshot.bind(machine);
  const start = machine.start.bind(machine);
  const transition = machine.transition.bind(machine);
  const restoreSnapshot = (snapshot: unknown, scope: unknown) => {
    const persisted = snapshot as { children?: Record<string, { src?: unknown }> };
    let children = persisted.children;
    if (children !== undefined && Object.values(children).some((child) => sources.has(child?.src as string))) {
      children = Object.fromEntries(Object.entries(children).filter(([, child]) => !sources.has(child?.src as string)));
    }
    const result = restore((children === persisted.children ? snapshot : { ...persisted, children }) as never, scope as never) as object;
    restored.add(result);
    return result;
  };
  const startRestored = (snapshot: unknown, scope: { self: AnyActorRef }) => {
    start(snapshot as never);
    if (!restored.has(snapshot as object)) return;
    restored.delete(snapshot as object);
    const s = snapshot as MachineSnapshotLike;
    if (s.status !== 'active') return;
    try {
      for (const task of tasks) {
        if (!s.hasTag(task.tag)) continue;
        const input = task.spec.input(s.context as never);
        startTask(task, scope.self, task.spec.recoverable && typeof input === 'object' && input !== null ? { ...input, recovered: true } : input);
      }
    } catch (error) {
      stopAll(scope.self); // the actor fails to start (an input that throws: a user's tokenizer)
      throw error;
    }
  };
  // XState ends an actor without an exit action when it stops (`xstate.stop`) and when a transition throws (an
  // action that throws: the actor's status becomes `error`): its tasks are stopped here then, or a restarted
  // incarnation would run the same attempt beside the one still running.
  const stopping = (snapshot: unknown, event: AnyEventObject, scope: { self: AnyActorRef }) => {
    if (event.type === 'xstate.stop') stopAll(scope.self);
    let next: { status?: unknown };
    try {
      next = transition(snapshot as never, event as never, scope as never) as { status?: unknown };
    } catch (error) {
      stopAll(scope.self);
      throw error;
    }
    if (next.status === 'error') stopAll(scope.self);
    return next;
  };
  // A workflow with work in flight is not idle (passivation).
  const troupeBusy = (actor: AnyActorRef) => (runs.get(actor)?.size ?? 0) > 0;
  return Object.assign(machine, { restoreSnapshot, start: startRestored, transition: stopping, troupeBusy });
}
