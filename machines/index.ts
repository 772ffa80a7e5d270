/**
 * `troupe/machines`: pure statecharts for resilient agent workflows (issue 3) — the workflow (saga) compiler and
 * its step statechart, the shared circuit breaker and escrow machines, the handoff channel's measures, the
 * execution trace's entry type, durable timers, and the emitted-event helpers by which machines talk to the runtime.
 */
export * from './emit.js';
export { workflow, stepMachine, DEFAULT_ESCROW, type WorkflowMachine } from './workflow.js';
export type { NestedRestore, RestoredTimer } from './nested-layout.js';
export type { TaskHost } from './task.js';
export {
  agent,
  runAgent,
  type AgentRunOptions,
  DEFAULT_AGENT_MAX_TURNS,
  DEFAULT_AGENT_TOKEN_BUDGET,
  type AgentContext,
  type AgentInput,
  type AgentJournal,
  type AgentOptions,
  type AgentOutput,
  type AgentTool,
  type AnyAgentTool,
  type AgentToolCall,
  type AgentVerdict,
} from './agent.js';
export {
  step, parallel, sequence, sequence as subWorkflow,
  type AttemptArgs, type AttemptNote, type StepFn, type StepOptions, type StepDef, type ParallelDef, type SequenceDef, type DefinitionNode,
  type WorkflowDefinition, type Verifier, type VerifierFn, type VerifyArgs, type VerifyResult, type Compensation,
  type CompensateFn, type CompensateArgs, type ConcurrencyLimit,
} from './definition.js';
export { validateDefinition, WorkflowDefinitionError } from './validate.js';
export { isWorkflowInput } from './workflow-input.js';
export { DEFAULT_RETRY, resolveRetry, retryDelay, isPermanent, toBackoff, type RetryPolicy, type ResolvedRetryPolicy } from './policy.js';
export { actorName, answerType, idempotencyKey, timerKey, DEFAULT_ASK_TIMEOUT_MS, DEFAULT_TIER } from './step-env.js';
export {
  estimateTokens, measure, DEFAULT_TOKEN_BUDGET,
  type Tokenizer, type Summarizer, type SummarizerFn, type SummarizeRequest, type HandoffRecord, type Measured,
} from './handoff.js';
export { traceEvent, traceUsage, type TokenUsage, type TraceEntry, type TraceKind } from './trace.js';
export { TIMER_EVENT, pendingTimers, nowOf, type TimerEvent, type TimerRecord, type Timers } from './timers.js';
export type {
  WorkflowContext, WorkflowInput, WorkflowOutput, SkippedStep, WorkflowStatus, StepRecord, StepStatus, EscalationRecord,
} from './workflow-context.js';
export { circuitBreaker, DEFAULT_BREAKER, type CircuitBreakerInput, type CircuitBreakerContext, type BreakerPermit, type BreakerState } from './circuit-breaker.js';
export {
  escrow,
  DEFAULT_SLA_MS,
  DEFAULT_LEVELS,
  type EscrowInput,
  type EscrowItem,
  type EscrowSubmission,
  type EscrowContext,
  type EscrowEvent,
  type EscrowCommand,
  type EscrowSubmitEvent,
  type EscrowDecisionEvent,
  type EscrowListEvent,
  type EscrowReceipt,
  type EscrowOutcome,
  type EscrowNotice,
  type EscrowBreachedEvent,
} from './escrow.js';
export {
  pool, DEFAULT_POOL_AGING_MS, DEFAULT_POOL_LEASE_MS,
  type PoolInput, type PoolContext, type PoolCommand, type PoolAcquireEvent, type PoolNotice, type PoolEvent, type PoolRequest, type PoolLease, type PoolStatus,
} from './pool.js';
export { flowControl, type FlowContext, type FlowEvent, type FlowHeld, type FlowInput } from './flow-control.js';
export { batcher, DEFAULT_BATCH_KEY, DEFAULT_BATCH_TYPE, type BatchContext, type BatchEvent, type BatchInput, type BatchMessage, type OpenBatch } from './batch.js';
export { rateLimit, type RateLimitInput, type RateLimitContext, type RateLimitEvent } from './rate-limit.js';
export type { OutputSize, HandoffKey } from './handoff.js';
export type { StepEnv } from './step-env.js';
export type { RateLimitRequest } from './rate-limit.js';
