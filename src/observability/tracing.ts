/**
 * OpenTelemetry spans from the execution trace (issue 12): each workflow run is a span (`troupe.workflow`), each step
 * attempt a child span (`troupe.step`, with step id, attempt, idempotency key, outcome and retry delay), each
 * compensation attempt one too (`troupe.compensation`), and escalations and their decisions are events on the
 * step's span. Built from the trace entries the runtime already receives, with their own times, so a workflow's
 * machine stays pure and nothing is measured twice.
 *
 * Troupe depends only on `@opentelemetry/api`: without a registered SDK the global tracer is a no-op, and a
 * workflow whose first entry finds no SDK is not followed at all (one check per run).
 *
 * One trace per run wherever it runs: a run's trace id is derived from its system and workflow id
 * (`workflowTraceId`), so the spans of a workflow that moves to another node, or resumes after a crash, join the
 * same trace without any context having to travel with it.
 */
import { createHash } from 'node:crypto';
import { context, SpanStatusCode, trace, TraceFlags, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type { TraceEntry } from '../trace-entry.js';
import { deleteOldest } from '../oldest-entry.js';
import { tracingRegistered } from './propagation.js';

/** Bounds the runs followed at once (a run that never ends must not grow the map for ever). */
const MAX_OPEN_RUNS = 10_000;

/** A step's `to` states that end its attempt's span. */
const ATTEMPT_ENDS: ReadonlySet<string> = new Set(['done', 'failed', 'skipped', 'retrying', 'escalated']);

interface Run {
  readonly span: Span;
  /** The context with the run's span: the parent of its attempt spans, made once per run. */
  readonly context: Context;
  /** Open attempt spans by step id (a compensation's id is `<step>~compensate`). */
  readonly attempts: Map<string, Span>;
}

export class WorkflowSpans {
  private readonly runs = new Map<string, Run | null>();

  /**
   * One tracer for the node's life: the API's proxy tracer, which starts delegating as soon as the application
   * registers an SDK (before or after the system was created). Getting it per run allocated a proxy each time.
   */
  private readonly tracer: Tracer;

  constructor(
    private readonly system = 'troupe',
    tracer: Tracer = trace.getTracer('troupe'),
  ) {
    this.tracer = tracer;
  }

  /** Open escalation spans by escrow item id: from the item's queuing to its decision, on the escrow's node. */
  private readonly escalations = new Map<string, Span>();

  /** Follows one trace entry. */
  record(entry: TraceEntry): void {
    if (entry.kind === 'escrow') return this.escalation(entry);
    let run = this.runs.get(entry.workflowId);
    if (run === undefined) run = this.open(entry);
    const ends = entry.kind === 'workflow' && (entry.to === 'completed' || entry.to === 'aborted');
    if (run === null) {
      if (ends) this.runs.delete(entry.workflowId);
      return;
    }
    const at = entry.at;
    if (ends) {
      for (const span of run.attempts.values()) span.end(at);
      if (entry.to === 'aborted') run.span.setStatus({ code: SpanStatusCode.ERROR, message: entry.error?.message ?? 'aborted' });
      run.span.setAttribute('troupe.workflow.outcome', entry.to);
      run.span.end(at);
      this.runs.delete(entry.workflowId);
      return;
    }
    if (entry.kind !== 'step' && entry.kind !== 'compensation') return;
    const key = entry.kind === 'compensation' ? `${entry.step}~compensate` : entry.step;
    const open = run.attempts.get(key);
    if (open === undefined && (entry.to === 'waiting' || entry.to === 'checking' || entry.to === 'running')) {
      const span = this.tracer.startSpan(`troupe.${entry.kind} ${entry.step}`, {
        startTime: at,
        attributes: {
          'troupe.workflow.id': entry.workflowId, 'troupe.step.id': entry.step, 'troupe.step.attempt': entry.attempt,
          'troupe.idempotency_key': entry.kind === 'compensation' ? `${entry.workflowId}/${entry.step}/compensate` : `${entry.workflowId}/${entry.step}`,
        },
      }, run.context);
      run.attempts.set(key, span);
      return;
    }
    if (open === undefined) {
      if (entry.outcome === 'escalated' || entry.from === 'escalated') run.span.addEvent(`troupe.${entry.outcome}`, { 'troupe.step.id': entry.step }, at);
      return;
    }
    if (entry.to === 'escalated') {
      open.addEvent('troupe.escalated', { 'troupe.step.id': entry.step }, at);
    }
    // The attempt ends when its work does: done, failed for good, skipped, retrying later, or waiting for a person.
    if (ATTEMPT_ENDS.has(entry.to)) {
      open.setAttribute('troupe.step.outcome', entry.outcome);
      if (entry.delayMs !== undefined) open.setAttribute('troupe.step.retry_delay_ms', entry.delayMs);
      if (entry.error !== undefined) open.setStatus({ code: SpanStatusCode.ERROR, message: entry.error.message });
      open.end(at);
      run.attempts.delete(key);
    }
  }

  /**
   * An escalation as a span (issue 12): opened when the escrow queues the item (tier, SLA, level), a breach moves it
   * a level up (an event), and the decision ends it (outcome, who decided). Its parent is the run's span where the
   * run is followed here, else the run's derived context: the escrow may run on another node than the workflow.
   */
  private escalation(entry: TraceEntry): void {
    const detail = entry.detail ?? {};
    const itemId = typeof detail['itemId'] === 'string' ? detail['itemId'] : `${entry.workflowId}/${entry.step}`;
    const open = this.escalations.get(itemId);
    if (open === undefined) {
      if (entry.outcome !== 'queued') return;
      const run = this.runs.get(entry.workflowId);
      const parent = run ? run.context : this.derivedContext(entry.workflowId);
      const span = this.tracer.startSpan(`troupe.escalation ${entry.step}`, {
        startTime: entry.at,
        attributes: {
          'troupe.workflow.id': entry.workflowId, 'troupe.step.id': entry.step, 'troupe.escrow.item': itemId, 'troupe.escrow.level': entry.to,
          ...(typeof detail['tier'] === 'string' ? { 'troupe.escrow.tier': detail['tier'] } : {}),
          ...(typeof detail['dueAt'] === 'number' ? { 'troupe.escrow.sla_ms': detail['dueAt'] - entry.at } : {}),
        },
      }, parent);
      if (!span.isRecording()) return;
      if (this.escalations.size >= MAX_OPEN_RUNS) deleteOldest(this.escalations);
      this.escalations.set(itemId, span);
      return;
    }
    if (entry.outcome === 'approved' || entry.outcome === 'rejected' || entry.outcome === 'retry') {
      open.setAttribute('troupe.escrow.outcome', entry.outcome);
      if (typeof detail['by'] === 'string') open.setAttribute('troupe.escrow.decided_by', detail['by']);
      open.end(entry.at);
      this.escalations.delete(itemId);
      return;
    }
    // Anything else is the item moving up a level at an SLA breach.
    open.addEvent(`troupe.escrow.${entry.outcome}`, { 'troupe.escrow.level': entry.to }, entry.at);
    open.setAttribute('troupe.escrow.level', entry.to);
  }

  /** The context of a run's root span as every node derives it (workflowTraceIds). */
  private derivedContext(workflowId: string) {
    const { traceId, spanId } = workflowTraceIds(this.system, workflowId);
    return trace.setSpanContext(context.active(), { traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
  }

  /** Ends every open span (shutdown). */
  close(at = Date.now()): void {
    for (const span of this.escalations.values()) span.end(at);
    this.escalations.clear();
    for (const run of this.runs.values()) {
      if (run === null) continue;
      for (const span of run.attempts.values()) span.end(at);
      run.span.end(at);
    }
    this.runs.clear();
  }

  private open(entry: TraceEntry): Run | null {
    if (this.runs.size >= MAX_OPEN_RUNS) deleteOldest(this.runs);
    // No SDK registered: the API hands out non-recording spans; follow nothing for this run. Known without
    // hashing the trace ids and starting a span (a SHA-256 per workflow, for nothing).
    if (!tracingRegistered()) {
      this.runs.set(entry.workflowId, null);
      return null;
    }
    const { traceId, spanId } = workflowTraceIds(this.system, entry.workflowId);
    const parent = trace.setSpanContext(context.active(), { traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
    const span = this.tracer.startSpan('troupe.workflow', { startTime: entry.at, attributes: { 'troupe.workflow.id': entry.workflowId } }, parent);
    const run = span.isRecording() ? { span, context: trace.setSpan(context.active(), span), attempts: new Map<string, Span>() } : null;
    this.runs.set(entry.workflowId, run);
    return run;
  }
}

/**
 * The trace id of a workflow run (32 hex digits), the same on every node and after every restart: where to find a
 * workflow in the operator's tracing backend.
 */
export function workflowTraceId(system: string, workflowId: string): string {
  return workflowTraceIds(system, workflowId).traceId;
}

function workflowTraceIds(system: string, workflowId: string): { traceId: string; spanId: string } {
  const digest = createHash('sha256').update(`troupe\0${system}\0${workflowId}`).digest('hex');
  return { traceId: digest.slice(0, 32), spanId: digest.slice(32, 48) };
}
