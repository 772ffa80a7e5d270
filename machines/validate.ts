/**
 * Definition validation (issue 3): a workflow is checked when it is built, and each problem is a typed error
 * naming the step and the field (`steps.<stepId>.<field>`), like OTP's `check_childspec`.
 */
import { InvalidConfigError } from '../src/errors.js';
import { itemKey, type DefinitionNode, type StepDef, type WorkflowDefinition } from './definition.js';
import { WORKFLOW_STATES } from './workflow-states.js';
import type { RetryPolicy } from './policy.js';

/** A workflow definition problem; `stepId` and `stepField` say where. */
export class WorkflowDefinitionError extends InvalidConfigError {
  readonly stepId: string;
  readonly stepField: string;
  constructor(stepId: string, stepField: string, reason: string) {
    super(stepId === '' ? stepField : `steps.${stepId}.${stepField}`, reason);
    this.stepId = stepId;
    this.stepField = stepField;
  }
}

const ID = /^[A-Za-z0-9_-]+$/;

/** Throws `WorkflowDefinitionError` for the first problem found. */
export function validateDefinition(workflowId: string, def: WorkflowDefinition): void {
  if (!ID.test(workflowId)) fail('', 'id', `workflow id ${JSON.stringify(workflowId)} must match ${ID}`);
  if (!Array.isArray(def.steps) || def.steps.length === 0) fail('', 'steps', 'must be a non-empty array');
  positive('', 'tokenBudget', def.tokenBudget);
  if (def.tokenizer !== undefined && typeof def.tokenizer !== 'function') fail('', 'tokenizer', 'must be a function');
  if (def.summarizer !== undefined && !isFnOrAddress(def.summarizer)) fail('', 'summarizer', 'must be a function or an address');
  checkConcurrency(def.concurrency);
  const seen = new Set<string>();
  walk(def.steps, new Set(), seen, 'steps');
  // The top-level items are the root's own states (workflow.ts), beside the workflow's.
  def.steps.forEach((node, index) => {
    const key = itemKey(node, index);
    if (WORKFLOW_STATES.includes(key)) fail(key, 'id', `${JSON.stringify(key)} names a state of the workflow itself: rename the top-level ${node.kind}`);
  });
}

/** Checks nodes in order; `before` holds the steps certain to have finished before each node starts. */
function walk(nodes: readonly DefinitionNode[], before: Set<string>, seen: Set<string>, where: string): Set<string> {
  let done = new Set(before);
  nodes.forEach((node, index) => {
    if (node === null || typeof node !== 'object') fail('', `${where}[${index}]`, 'must be a step, parallel group or sequence');
    if (node.kind === 'step') {
      checkStep(node, done, seen);
      done = new Set([...done, node.id]);
    } else if (node.kind === 'parallel') {
      // An unnamed group is keyed by its position, unique among its siblings (checked below), not workflow-wide.
      const id = itemKey(node, index);
      if (node.id !== undefined) claim(id, seen, 'id');
      if (node.id === undefined && nodes.some((other) => other !== node && other?.kind !== 'parallel' && other?.id === id)) fail(id, 'id', 'collides with the position key of an unnamed parallel group: name the group');
      if (!Array.isArray(node.branches) || node.branches.length === 0) fail(id, 'branches', 'must be a non-empty array');
      const after = new Set(done);
      for (const branch of node.branches) for (const s of walk([branch], done, seen, `${id}.branches`)) after.add(s);
      done = after;
    } else if (node.kind === 'sequence') {
      claim(node.id, seen, 'id');
      if (!Array.isArray(node.steps) || node.steps.length === 0) fail(node.id, 'steps', 'must be a non-empty array');
      done = walk(node.steps, done, seen, `${node.id}.steps`);
    } else {
      fail('', `${where}[${index}].kind`, `unknown node kind ${JSON.stringify((node as { kind?: unknown }).kind)}`);
    }
  });
  return done;
}

function claim(id: string, seen: Set<string>, field: string): void {
  if (typeof id !== 'string' || !ID.test(id)) fail(String(id), field, `must match ${ID} (it becomes part of the idempotency key)`);
  // Every sequence ends in a final state of that name (workflow.ts), which would replace the item.
  if (id === 'end') fail(id, field, '"end" names the final state of every sequence: rename it');
  if (seen.has(id)) fail(id, field, 'duplicate id: step, group and sequence ids must be unique in a workflow');
  seen.add(id);
}

function checkStep(def: StepDef, before: Set<string>, seen: Set<string>): void {
  claim(def.id, seen, 'id');
  const id = def.id;
  const o = def.options ?? {};
  if (typeof def.run !== 'function') fail(id, 'run', 'must be a function');
  checkRetry(id, 'retry', o.retry);
  positive(id, 'startToCloseMs', o.startToCloseMs);
  positive(id, 'scheduleToCloseMs', o.scheduleToCloseMs);
  if (o.critical !== undefined && typeof o.critical !== 'boolean') fail(id, 'critical', 'must be a boolean');
  if (o.verify !== undefined && !isFnOrAddress(o.verify)) fail(id, 'verify', 'must be a function or an address');
  if (o.onVerifyFail !== undefined && o.onVerifyFail !== 'retry' && o.onVerifyFail !== 'escalate') fail(id, 'onVerifyFail', "must be 'retry' or 'escalate'");
  if (o.minConfidence !== undefined && !(typeof o.minConfidence === 'number' && o.minConfidence >= 0 && o.minConfidence <= 1)) fail(id, 'minConfidence', 'must be a number between 0 and 1');
  if (o.fallback !== undefined && !isFnOrAddress(o.fallback)) fail(id, 'fallback', 'must be a function or an address');
  if (o.breaker !== undefined && !(typeof o.breaker === 'string' && o.breaker.length > 0)) fail(id, 'breaker', 'must be an address');
  if (o.uses !== undefined && !(Array.isArray(o.uses) && o.uses.every((u) => typeof u === 'string' && u.length > 0) && new Set(o.uses).size === o.uses.length)) {
    fail(id, 'uses', 'must be a list of distinct pool addresses');
  }
  if (o.poolKey !== undefined && typeof o.poolKey !== 'function') fail(id, 'poolKey', 'must be a function of the workflow input');
  if (o.poolKey !== undefined && (o.uses === undefined || o.uses.length === 0)) fail(id, 'poolKey', 'needs uses (the pools the key counts in)');
  if (o.escalation?.tier !== undefined && !(typeof o.escalation.tier === 'string' && o.escalation.tier.length > 0)) fail(id, 'escalation.tier', 'must be a non-empty string');
  positive(id, 'tokenBudget', o.tokenBudget);
  checkCompensation(def);
  for (const [i, ref] of (o.from ?? []).entries()) {
    if (!seen.has(ref) || ref === id) fail(id, `from[${i}]`, `unknown step ${JSON.stringify(ref)}`);
    if (!before.has(ref)) fail(id, `from[${i}]`, `step ${JSON.stringify(ref)} does not finish before ${JSON.stringify(id)}`);
  }
}

function checkConcurrency(limits: WorkflowDefinition['concurrency']): void {
  if (limits === undefined) return;
  if (!Array.isArray(limits)) fail('', 'concurrency', 'must be a list of pool addresses or { pool, key }');
  const pools = new Set<string>();
  limits.forEach((limit, i) => {
    const pool = typeof limit === 'string' ? limit : (limit as { pool?: unknown } | null)?.pool;
    if (typeof pool !== 'string' || pool.length === 0) fail('', `concurrency[${i}]`, 'must be a pool address or { pool, key }');
    if (pools.has(pool)) fail('', `concurrency[${i}]`, `pool ${JSON.stringify(pool)} is listed twice`);
    pools.add(pool);
    if (typeof limit === 'object' && limit.key !== undefined && typeof limit.key !== 'function') fail('', `concurrency[${i}].key`, 'must be a function of the workflow input');
  });
}

function checkCompensation(def: StepDef): void {
  const c = def.options.compensate;
  if (c === undefined || typeof c === 'function') return;
  if (typeof c !== 'object' || typeof c.run !== 'function') fail(def.id, 'compensate', 'must be a function or { run, retry }');
  checkRetry(def.id, 'compensate.retry', c.retry);
}

function checkRetry(id: string, field: string, retry: RetryPolicy | undefined): void {
  if (retry === undefined) return;
  if (typeof retry !== 'object' || retry === null) fail(id, field, 'must be an object');
  const r = retry;
  if (r.maximumAttempts !== undefined && !(Number.isInteger(r.maximumAttempts) && r.maximumAttempts >= 1)) fail(id, `${field}.maximumAttempts`, 'must be an integer >= 1');
  if (r.initialInterval !== undefined && !(Number.isFinite(r.initialInterval) && r.initialInterval >= 0)) fail(id, `${field}.initialInterval`, 'must be a finite number >= 0');
  if (r.backoffCoefficient !== undefined && !(Number.isFinite(r.backoffCoefficient) && r.backoffCoefficient >= 1)) fail(id, `${field}.backoffCoefficient`, 'must be a finite number >= 1');
  if (r.maximumInterval !== undefined && !(Number.isFinite(r.maximumInterval) && r.maximumInterval >= (r.initialInterval ?? 0))) fail(id, `${field}.maximumInterval`, 'must be a finite number >= initialInterval');
  if (r.jitter !== undefined && !(typeof r.jitter === 'number' && r.jitter >= 0 && r.jitter <= 1)) fail(id, `${field}.jitter`, 'must be between 0 and 1');
  if (r.onExhausted !== undefined && r.onExhausted !== 'fail' && r.onExhausted !== 'escalate') fail(id, `${field}.onExhausted`, "must be 'fail' or 'escalate'");
  if (r.nonRetryableErrorTypes !== undefined && !(Array.isArray(r.nonRetryableErrorTypes) && r.nonRetryableErrorTypes.every((t) => typeof t === 'string'))) fail(id, `${field}.nonRetryableErrorTypes`, 'must be an array of strings');
}

function positive(id: string, field: string, value: number | undefined): void {
  if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value > 0)) fail(id, field, 'must be a finite number > 0');
}

function isFnOrAddress(value: unknown): boolean {
  return typeof value === 'function' || (typeof value === 'string' && value.length > 0);
}

function fail(stepId: string, field: string, reason: string): never {
  throw new WorkflowDefinitionError(stepId, field, reason);
}
