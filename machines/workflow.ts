/**
 * `workflow(id, { steps })` (issue 3): a definition of steps, parallel groups and nested sequences compiled
 * into one statechart — sequences to compound states, parallel groups to parallel states, each step to the
 * step statechart (step.ts) whose work runs as its `running` state's task (task.ts): promise logic registered by
 * name in `setup({ actors })`, so tests swap implementations with `machine.provide({ actors })`, and run again
 * when a snapshot is restored with that state active.
 *
 *   the steps (the root's own states) --all done or skipped--> completed
 *   a step --critical failure--> compensating (reverse order) --> aborted (with the cause); workflow.cancel too
 *
 * The machine is pure: it talks to the runtime only through emitted events (tell, ask, trace; see emit.ts).
 */
import { fromPromise, setup, type AnyActorLogic, type AnyEventObject } from 'xstate';
import { itemKey, type ConcurrencyLimit, type DefinitionNode, type StepDef, type WorkflowDefinition } from './definition.js';
import { DEFAULT_TOKEN_BUDGET, estimateTokens, type SummarizeRequest } from './handoff.js';
import { stepEnv, actorName, type StepEnv } from './step-env.js';
import { startsDirectly, stepState, type DelayFn, type SuccessHandoff } from './step.js';
import { ABORTED_ID, COMPENSATING_ID, cancelled, compensatingState } from './compensation.js';
import { withNestedRestore } from './nested-layout.js';
import { withTasks, type TaskSpec } from './task.js';
import { traceEvent } from './trace.js';
import { validateDefinition } from './validate.js';
import { actorIdOf, resolveRunIdentity } from './workflow-input.js';
import { act, type ReducerArgs, type SkippedStep, type WorkflowContext, type WorkflowInput, type WorkflowOutput } from './workflow-context.js';

/** The default escrow's id: a workflow at `<system>/...` escalates to `<system>/escrow` (workflow-input.ts). */
export { DEFAULT_ESCROW_ID as DEFAULT_ESCROW } from './workflow-input.js';

interface Compiled {
  states: Record<string, unknown>;
  /** Counter for the ids of sequence items. */
  items: number;
  envs: StepEnv[];
  actors: Record<string, AnyActorLogic>;
  delays: Record<string, DelayFn>;
  tasks: TaskSpec<WorkflowContext>[];
}

type Shared = { budget: number; tokenizer: (text: string) => number; summarizer: WorkflowDefinition['summarizer']; concurrency: readonly ConcurrencyLimit[] };

/**
 * Builds the workflow's machine; throws `WorkflowDefinitionError` naming the step and field of a bad definition.
 *
 * @example
 * const reply = workflow('customer-reply', {
 *   steps: [
 *     step('history', fetchHistory, { retry: { maximumAttempts: 3 } }),
 *     parallel([step('sentiment', classify, { minConfidence: 0.85 }), step('inventory', checkStock)]),
 *     step('send', sendEmail, { critical: true, compensate: recallEmail, escalation: { tier: 'customer-facing' } }),
 *   ],
 * });
 * system.register('customer-reply', reply);
 * system.spawn('customer-reply', { id: 'ticket-42', input: ticket }); // workflowId `ticket-42`, address `support/ticket-42`
 * createActor(reply, { input: { workflowId: 'ticket-42', input: ticket } }).start(); // without the runtime
 *
 * The input is the user's input itself, or the explicit `WorkflowInput` wrapper; `workflowId` and `address`
 * default to the actor's id and address (the rule is in workflow-input.ts).
 */
export function workflow<TInput = unknown>(id: string, definition: WorkflowDefinition<TInput>) {
  validateDefinition(id, definition as WorkflowDefinition);
  const shared: Shared = {
    budget: definition.tokenBudget ?? DEFAULT_TOKEN_BUDGET, tokenizer: definition.tokenizer ?? estimateTokens, summarizer: definition.summarizer,
    concurrency: (definition.concurrency ?? []).map((limit) => (typeof limit === 'string' ? { pool: limit } : limit) as ConcurrencyLimit),
  };
  const compiled: Compiled = { states: {}, items: 0, envs: [], actors: {}, delays: {}, tasks: [] };
  // The steps are the root's own states, and the top-level sequence ends in `completed`: a chart one level
  // shallower than a compound of the steps would be (every transition's cost grows with the active states' depth).
  const top = compileSequence(definition.steps as readonly DefinitionNode[], [], shared, compiled, { key: 'completed', entry: act(completed) });
  const compensating = compensatingState(compiled.envs);
  const summarizer = definition.summarizer;
  const actors: Record<string, AnyActorLogic> = { ...compiled.actors, ...compensating.actors };
  if (typeof summarizer === 'function') {
    actors[actorName.summarize] = fromPromise(async ({ input, signal }: { input: Omit<SummarizeRequest, 'signal'>; signal: AbortSignal }) => summarizer({ ...input, signal }));
  }
  const escrow = definition.escrow;
  const config = {
    id,
    context: ({ input, self }: { input: unknown; self: { id?: unknown; sessionId?: unknown } }) => initialContext(id, escrow, input, actorIdOf(self)),
    initial: top.state['initial'],
    // A cancel while the steps run; ignored once compensating.
    on: { 'workflow.cancel': { guard: ({ context }: { context: WorkflowContext }) => context.status === 'running', target: `#${COMPENSATING_ID}`, actions: act(cancelled) } },
    states: {
      ...(top.state['states'] as Record<string, unknown>),
      compensating: compensating.state,
      aborted: { id: ABORTED_ID, type: 'final' },
    },
    output: ({ context }: { context: WorkflowContext }) => outputOf(context),
  };
  const machine = setup({
    types: {} as { context: WorkflowContext; input: WorkflowInput<TInput> | TInput | undefined; events: AnyEventObject; output: WorkflowOutput; emitted: AnyEventObject },
    actors,
    delays: { ...compiled.delays, ...compensating.delays },
  // The chart is compiled from data, so its config cannot be checked against xstate's literal-config types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  }).createMachine(config as any);
  const tasks = [...compiled.tasks, ...compensating.tasks];
  const extras = {
    workflowDefinition: definition as WorkflowDefinition<TInput>,
    stepIds: compiled.envs.map((e) => e.id),
    troupeServices: servicesOf(id, escrow, summarizer, compiled.envs, shared.concurrency),
  };
  // `provide()` makes a new machine from the config: it gets the same restore, tasks and fields.
  const decorate = (m: typeof machine) => {
    const provide = m.provide.bind(m);
    return Object.assign(withTasks(withNestedRestore(m), tasks), extras, { provide: (implementations: Parameters<typeof provide>[0]) => decorate(provide(implementations)) });
  };
  return decorate(machine);
}

/**
 * The addresses a run may talk to, for the runtime to check at spawn (issue 13: an escalation to an escrow that does
 * not exist must fail fast, not wait for ever): breakers, fallback and verifier agents, the summarizer agent, and
 * the escrow when some step can escalate (a verifier, a confidence threshold, `onExhausted: 'escalate'`, or a
 * compensation, which escalates when its retries run out). `role` names the field that set it.
 */
function servicesOf(id: string, escrow: string | undefined, summarizer: WorkflowDefinition['summarizer'], envs: readonly StepEnv[], concurrency: readonly ConcurrencyLimit[]) {
  const fixed: Array<{ role: string; address: string }> = concurrency.map((limit, i) => ({ role: `concurrency[${i}]`, address: limit.pool }));
  for (const env of envs) {
    if (env.breaker !== undefined) fixed.push({ role: `steps.${env.id}.breaker`, address: env.breaker });
    if (typeof env.fallback === 'string') fixed.push({ role: `steps.${env.id}.fallback`, address: env.fallback });
    if (typeof env.verify === 'string') fixed.push({ role: `steps.${env.id}.verify`, address: env.verify });
    (env.def.options.uses ?? []).forEach((pool, i) => fixed.push({ role: `steps.${env.id}.uses[${i}]`, address: pool }));
  }
  if (typeof summarizer === 'string') fixed.push({ role: 'summarizer', address: summarizer });
  const escalates = envs.some((e) => e.verify !== undefined || e.minConfidence !== undefined || e.retry.onExhausted === 'escalate' || e.compensable);
  return (input: unknown, address: string): ReadonlyArray<{ role: string; address: string }> =>
    escalates ? [...fixed, { role: 'escrow', address: resolveRunIdentity(id, escrow, input, address).escrow }] : fixed;
}

export type WorkflowMachine = ReturnType<typeof workflow>;

/**
 * One step on its own, as a machine: a workflow of that single step (same states, same events), for work that
 * needs retry, verification and escalation without a surrounding workflow.
 *
 * @example
 * const send = stepMachine(step('send', sendEmail, { retry: { maximumAttempts: 5 }, escalation: { tier: 'customer-facing' } }));
 */
export function stepMachine<TInput = unknown>(def: StepDef<TInput>, options: Omit<WorkflowDefinition<TInput>, 'steps'> = {}) {
  return workflow<TInput>(def.id, { ...options, steps: [def] });
}

/** The final state a sequence ends in: `end`, or the workflow's `completed` for the top-level sequence. */
interface SequenceEnd {
  readonly key: string;
  readonly entry?: unknown;
}

function compileSequence(nodes: readonly DefinitionNode[], before: readonly string[], shared: Shared, out: Compiled, end: SequenceEnd = { key: 'end' }): { state: Record<string, unknown>; after: string[] } {
  const states: Record<string, unknown> = {};
  let done = [...before];
  const keys = nodes.map(itemKey);
  // Each item (and the end) gets an id, so a step that succeeds can go straight to the next item: one
  // microstep instead of two (through its final `done` state and the compound's onDone).
  const ids = [...keys, 'end'].map(() => `troupe:item:${out.items++}`);
  // A step followed by a direct step hands over to it in one transition (step.ts, `SuccessHandoff`): its env is
  // built here, one item early, and reused when that step is compiled.
  let env: StepEnv | undefined;
  nodes.forEach((node, index) => {
    const next = keys[index + 1] ?? end.key;
    const nextNode = nodes[index + 1];
    const own = node.kind === 'step' ? env ?? stepEnv(node, done, shared) : undefined;
    env = own !== undefined && nextNode?.kind === 'step' ? stepEnv(nextNode, [...done, own.id], shared) : undefined;
    const target = `#${ids[index + 1] as string}`;
    const success: SuccessHandoff = env !== undefined && startsDirectly(env) ? { target, next: env } : { target };
    const compiled = own !== undefined ? compileStep(own, done, out, success) : compileNode(node, index, done, shared, out);
    states[keys[index] as string] = { ...compiled.state, id: ids[index], onDone: next };
    done = compiled.after;
  });
  states[end.key] = end.entry === undefined ? { type: 'final', id: ids[keys.length] } : { type: 'final', id: ids[keys.length], entry: end.entry };
  return { state: { initial: keys[0], states }, after: done };
}

function compileStep(env: StepEnv, before: readonly string[], out: Compiled, success?: SuccessHandoff): { state: Record<string, unknown>; after: string[] } {
  const options = { initial: 'pending' as const, abortTarget: `#${COMPENSATING_ID}` };
  const built = stepState(env, success === undefined ? options : { ...options, success });
  out.envs.push(env);
  Object.assign(out.actors, built.actors);
  Object.assign(out.delays, built.delays);
  out.tasks.push(...built.tasks);
  return { state: built.state, after: [...before, env.id] };
}

function compileNode(node: DefinitionNode, index: number, before: readonly string[], shared: Shared, out: Compiled): { state: Record<string, unknown>; after: string[] } {
  if (node.kind === 'step') return compileStep(stepEnv(node, before, shared), before, out);
  if (node.kind === 'sequence') return compileSequence(node.steps, before, shared, out);
  const regions: Record<string, unknown> = {};
  const after = new Set(before);
  node.branches.forEach((branch, i) => {
    // A branch ends in its own final state: the parallel group is done when every branch is.
    const compiled = compileNode(branch, i, before, shared, out);
    regions[itemKey(branch, i)] = compiled.state;
    for (const id of compiled.after) after.add(id);
  });
  void index;
  return { state: { type: 'parallel', states: regions }, after: [...after] };
}

function initialContext(id: string, escrow: string | undefined, raw: unknown, actorId: string | undefined): WorkflowContext {
  const run = resolveRunIdentity(id, escrow, raw, actorId);
  return {
    workflowId: run.workflowId, address: run.address, escrow: run.escrow, input: run.input, status: 'running',
    steps: {}, results: {}, completed: [], compensations: [], compensated: [], timers: {}, rng: run.rng,
    // Every key a transition may set is there from the start: `patch` copies a context fastest when it adds none.
    cause: undefined,
  };
}

function completed(a: ReducerArgs) {
  return {
    context: { status: 'completed' as const },
    emit: [traceEvent({ workflowId: a.context.workflowId, kind: 'workflow', step: '', attempt: 0, from: 'running', to: 'completed', outcome: 'completed', at: a.now })],
  };
}

function outputOf(context: WorkflowContext): WorkflowOutput {
  const skipped = Object.entries(context.steps)
    .filter(([key, r]) => r.status === 'skipped' && !key.includes('~'))
    .map(([stepId, r]): SkippedStep => (r.error === undefined ? { stepId } : { stepId, error: r.error }));
  const base = { status: context.status === 'aborted' ? 'aborted' as const : 'completed' as const, results: context.results, skipped, compensated: context.compensated };
  return context.cause === undefined ? base : { ...base, cause: context.cause };
}
