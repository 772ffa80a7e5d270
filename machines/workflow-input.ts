/**
 * How a workflow reads its input (issue 8): the run's identity comes from the actor it runs in, so
 * `system.spawn('customer-reply', { id: 'ticket-42', input: ticket })` gets `workflowId` `ticket-42` and address
 * `support/ticket-42` without a wrapper, and two runs spawned without a `workflowId` never share idempotency keys.
 *
 * The rule, in order:
 * 1. The input is the explicit wrapper (`WorkflowInput`) when it is a non-empty plain object whose every own key
 *    is one of `workflowId`, `address`, `escrow`, `input`, `seed`, with `workflowId`/`address`/`escrow` strings and
 *    `seed` a number when present. Then its `input` is the user's input and its other fields win over defaults.
 *    Anything else (a ticket, a string, `undefined`, `{}`) is the user's input itself. An input that would read as a
 *    wrapper by accident (say `{ address: '...' }` alone) is passed unmistakably as `{ input: yours }`.
 * 2. `address` defaults to the actor's id (`self.id`: the runtime creates every actor with its Troupe address as
 *    id), and `workflowId` to the last `/` segment of it — the id given to `spawn`. Actor ids are unique only
 *    under one parent: runs under different parents with the same id should be given distinct `workflowId`s.
 * 3. An actor created without an id (`createActor(machine)`: XState then uses its session id, the same `x:0` for
 *    every root) has no identity of its own: `workflowId` defaults to the definition's id and `address` to
 *    `workflowId`, as before issue 8. Pass an `id` or a `workflowId` to run several of them.
 * 4. The jitter seed defaults to a hash of the effective `workflowId`.
 */
import { DEFAULT_ESCROW_ID } from '../src/escrow-protocol.js';
import { seedFrom } from './timers.js';
import type { WorkflowInput } from './workflow-context.js';

/** The fields of the context that come from the input and the actor. */
export interface RunIdentity {
  readonly workflowId: string;
  readonly address: string;
  readonly escrow: string;
  readonly input: unknown;
  readonly rng: number;
}

const WRAPPER_KEYS: ReadonlySet<string> = new Set(['workflowId', 'address', 'escrow', 'input', 'seed']);

/** Rule 1: whether `value` is the explicit wrapper rather than the user's own input. */
export function isWorkflowInput(value: unknown): value is WorkflowInput {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  const keys = Object.keys(value);
  if (keys.length === 0 || keys.some((key) => !WRAPPER_KEYS.has(key))) return false;
  const v = value as Record<string, unknown>;
  return isOptional(v['workflowId'], 'string') && isOptional(v['address'], 'string') && isOptional(v['escrow'], 'string')
    && isOptional(v['seed'], 'number');
}

function isOptional(value: unknown, type: 'string' | 'number'): boolean {
  return value === undefined || typeof value === type;
}

/** The actor's own id, or undefined for an actor created without one (its id is then its session id). */
export function actorIdOf(self: { id?: unknown; sessionId?: unknown } | undefined): string | undefined {
  const id = self?.id;
  return typeof id === 'string' && id !== '' && id !== self?.sessionId ? id : undefined;
}

/** Applies the rule above; `definitionId` and `escrow` are the definition's id and escrow address. */
export function resolveRunIdentity(definitionId: string, escrow: string | undefined, raw: unknown, actorId: string | undefined): RunIdentity {
  const wrapper: WorkflowInput | undefined = isWorkflowInput(raw) ? raw : undefined;
  const input = wrapper === undefined ? raw : wrapper.input;
  const workflowId = wrapper?.workflowId ?? (actorId === undefined ? definitionId : lastSegment(actorId));
  const address = wrapper?.address ?? actorId ?? workflowId;
  return { workflowId, address, escrow: wrapper?.escrow ?? escrow ?? defaultEscrow(address), input, rng: wrapper?.seed ?? seedFrom(workflowId) };
}

function lastSegment(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * The escrow a workflow escalates to when neither its definition nor its input names one: `<system>/escrow`, the
 * system of the workflow's own address (issue 13: a bare `escrow` is no address in a system, and an escalation
 * sent there was dead-lettered). An address without a system (a machine run without the runtime) keeps `escrow`.
 */
export function defaultEscrow(address: string): string {
  const slash = address.indexOf('/');
  return slash > 0 ? `${address.slice(0, slash)}/${DEFAULT_ESCROW_ID}` : DEFAULT_ESCROW_ID;
}

/** The id the default escrow has in its system (one constant with the escrow's protocol). */
export { DEFAULT_ESCROW_ID };
