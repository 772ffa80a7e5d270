/**
 * The handoff channel's transitions (issue 3): measure what a step receives, summarize it when over budget, record
 * the handoff in the trace (both sizes when summarized), then start the first attempt.
 */
import { estimateTokens, handoffData, measure, summedSize, type HandoffRecord } from './handoff.js';
import { answerType, type StepEnv } from './step-env.js';
import { ask, moveTo } from './step-move.js';
import { begin } from './step-reducers.js';
import { traceEvent, type TraceEntry } from './trace.js';
import { patch, patchRecord, recordOf, type Effect, type ReducerArgs, type StepRecord } from './workflow-context.js';

/** pending: measure the handoff; summarize it when over budget, else start the first attempt. */
export function prepare(env: StepEnv): (a: ReducerArgs) => Effect {
  return (a) => {
    const steps = a.context.steps;
    const summed = env.tokenizer === estimateTokens ? summedSize(env.handoffKeys, a.context.results, (id) => steps[id]?.outputSize) : undefined;
    const m = summed ?? measure(handoffData(env.from, a.context.results), env.tokenizer);
    const over = m.tokens > env.budget;
    if (over && env.summarizer !== undefined) {
      const text = 'text' in m ? m.text : measure(handoffData(env.from, a.context.results), env.tokenizer).text;
      const r: StepRecord = patchRecord(recordOf(a.context, env.id), { status: 'summarizing', askedAt: a.now });
      const emit = typeof env.summarizer === 'string'
        ? [ask(env, a, env.summarizer, { type: 'summarize', text, budget: env.budget, tokens: m.tokens }, answerType.summary(env.id))]
        : [];
      return moveTo(env, a, r, { outcome: 'over-budget', trace: { bytes: m.bytes, tokens: m.tokens }, emit });
    }
    const handoff: HandoffRecord = { from: env.from, bytes: m.bytes, tokens: m.tokens, originalBytes: m.bytes, originalTokens: m.tokens, summarized: false };
    return withHandoff(env, a, handoff, over ? 'over-budget' : 'passed');
  };
}

/** summarizing: the summary arrived; pass it instead of the original. */
export function summarized(env: StepEnv, summary: unknown): (a: ReducerArgs) => Effect {
  return (a) => {
    const original = measure(handoffData(env.from, a.context.results), env.tokenizer);
    const m = measure(summary, env.tokenizer);
    const handoff: HandoffRecord = { from: env.from, context: summary, bytes: m.bytes, tokens: m.tokens, originalBytes: original.bytes, originalTokens: original.tokens, summarized: true };
    return withHandoff(env, a, handoff, 'summarized');
  };
}

function withHandoff(env: StepEnv, a: ReducerArgs, handoff: HandoffRecord, outcome: string): Effect {
  const entry: TraceEntry = {
    workflowId: a.context.workflowId, kind: 'handoff', step: env.id, attempt: 0, from: joined(handoff.from), to: env.id, outcome, at: a.now,
    bytes: handoff.bytes, tokens: handoff.tokens, originalBytes: handoff.originalBytes, originalTokens: handoff.originalTokens, summarized: handoff.summarized,
  };
  const r: StepRecord = patchRecord(recordOf(a.context, env.id), { handoff });
  const started = begin(env, a, undefined, r);
  const emit = [traceEvent(entry)];
  if (started.emit !== undefined) for (const e of started.emit) emit.push(e as never);
  return { context: started.context, emit };
}

const joinedLists = new WeakMap<readonly string[], string>();

/** `from.join(',')`, once per list: a step's `from` is fixed when the workflow is compiled (hot path). */
function joined(from: readonly string[]): string {
  let text = joinedLists.get(from);
  if (text === undefined) joinedLists.set(from, text = from.join(','));
  return text;
}

