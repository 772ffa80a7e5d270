/**
 * OpenTelemetry spans of a workflow (issue 12), through the real SDK's in-memory exporter: one run with a retry, an
 * escalation a person approves, a critical failure and the compensation it triggers.
 */
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createActor, toPromise } from 'xstate';
import { agent, escrow, step, workflow, type AgentOutput } from '../../machines/index.js';
import type { LlmClient } from '../../actors/llm.js';
import { createSystem, NonRetryableError, workflowTraceId } from '../../src/index.js';
import { until } from '../fixtures/chaos.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
beforeAll(() => void trace.setGlobalTracerProvider(provider));
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
});

describe('OpenTelemetry spans (issue 12)', () => {
  it('a run is a span; each step attempt and compensation is a child span with its outcome; an escalation is a span from queuing to decision', async () => {
    let calls = 0;
    const order = workflow('order', {
      steps: [
        step('reserve', async () => { if (++calls === 1) throw new Error('flaky'); return 'reserved'; }, { retry: { initialInterval: 10 }, compensate: async () => undefined }),
        step('review', async () => ({ confidence: 0.2 }), { minConfidence: 0.9 }),
        step('charge', async () => { throw new NonRetryableError('card declined'); }),
      ],
    });
    const system = await createSystem({ name: 'otel', logLevel: 'silent' });
    try {
      system.spawn(system.register('escrow', escrow), { id: 'escrow' });
      const ref = system.spawn(system.register('order', order), { id: 'o1' });
      const item = await until(5_000, 'the review waits for a person', async () => (await system.escrow().list())[0]);
      await system.escrow().approve(item.id, { by: 'ana', output: { confidence: 1 } });
      await expect(ref.result({ timeoutMs: 5_000 })).rejects.toThrow();
    } finally {
      await system.shutdown();
    }
    const spans = exporter.getFinishedSpans();
    const root = spans.find((s) => s.name === 'troupe.workflow')!;
    expect(root.attributes).toMatchObject({ 'troupe.workflow.id': 'o1', 'troupe.workflow.outcome': 'aborted' });
    expect(root.status.code).toBe(2); // ERROR
    const children = spans.filter((s) => s.parentSpanContext?.spanId === root.spanContext().spanId && /^troupe\.(step|compensation) /.test(s.name));
    const summary = children.map((s) => `${s.name}#${String(s.attributes['troupe.step.attempt'])}:${String(s.attributes['troupe.step.outcome'])}:${s.status.code}`);
    expect(summary).toEqual([
      'troupe.step reserve#1:retrying:2', 'troupe.step reserve#2:succeeded:0', 'troupe.step review#1:escalated:0',
      'troupe.step charge#1:failed-permanently:2', 'troupe.compensation reserve#1:succeeded:0',
    ]);
    expect(children[0]!.attributes['troupe.step.retry_delay_ms']).toBeGreaterThan(0);
    expect(children[0]!.attributes['troupe.idempotency_key']).toBe('o1/reserve');
    expect(children[2]!.events.map((e) => e.name)).toContain('troupe.escalated');
    expect(root.events.map((e) => e.name)).toContain('troupe.approved');
    const escalation = spans.find((s) => s.name === 'troupe.escalation review')!;
    expect(escalation.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(escalation.attributes).toMatchObject({
      'troupe.step.id': 'review', 'troupe.escrow.item': 'o1/review/1', 'troupe.escrow.tier': 'internal', 'troupe.escrow.sla_ms': 1_800_000,
      'troupe.escrow.level': 'operator', 'troupe.escrow.outcome': 'approved', 'troupe.escrow.decided_by': 'ana',
    });
    expect(spans.every((s) => s.spanContext().traceId === root.spanContext().traceId)).toBe(true);
    // The run's trace id is derived from its system and workflow id: the same on any node, after any restart.
    expect(root.spanContext().traceId).toBe(workflowTraceId('otel', 'o1'));
    expect(root.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it("a run that moves to another node (or resumes after a crash) continues its trace there", async () => {
    exporter.reset();
    const wf = workflow('mover', { steps: [step('one', async () => 1)] });
    for (const node of ['node-a', 'node-b']) {
      const system = await createSystem({ name: 'otel2', nodeId: node, logLevel: 'silent' });
      try {
        await system.spawn(system.register('mover', wf), { id: 'm1' }).result({ timeoutMs: 5_000 });
      } finally {
        await system.shutdown();
      }
    }
    const roots = exporter.getFinishedSpans().filter((s) => s.name === 'troupe.workflow');
    expect(roots).toHaveLength(2);
    expect(new Set(roots.map((s) => s.spanContext().traceId))).toEqual(new Set([workflowTraceId('otel2', 'm1')]));
    expect(workflowTraceId('otel2', 'm2')).not.toBe(workflowTraceId('otel2', 'm1'));
    expect(workflowTraceId('other', 'm1')).not.toBe(workflowTraceId('otel2', 'm1'));
  });

  it('model and tool calls are spans after the GenAI conventions: provider, model, tokens; a failing tool is an error', async () => {
    exporter.reset();
    let turn = 0;
    const model: LlmClient = {
      provider: 'openai.chat',
      modelId: 'gpt-test',
      complete: async () => (++turn === 1
        ? { text: '', toolCalls: [{ id: 'c1', name: 'lookupOrder', input: { orderId: '42' } }, { id: 'c2', name: 'nope', input: {} }], stopReason: 'tool-calls', model: 'gpt-test-0613', usage: { inputTokens: 100, outputTokens: 20 } }
        : { text: 'shipped', stopReason: 'stop', model: 'gpt-test-0613', usage: { inputTokens: 150, outputTokens: 5 } }),
    };
    const lookupOrder = { input: z.object({ orderId: z.string() }), run: async () => ({ status: 'shipped' }) };
    const actor = createActor(agent({ model, tools: { lookupOrder } }), { input: { prompt: 'Where is 42?' } }).start();
    expect(await (toPromise(actor) as Promise<AgentOutput>)).toMatchObject({ status: 'answered', answer: 'shipped' });

    const spans = exporter.getFinishedSpans();
    const chats = spans.filter((s) => s.name === 'chat gpt-test');
    expect(chats.map((s) => s.attributes)).toEqual([
      expect.objectContaining({ 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai.chat', 'gen_ai.request.model': 'gpt-test', 'gen_ai.response.model': 'gpt-test-0613', 'gen_ai.usage.input_tokens': 100, 'gen_ai.usage.output_tokens': 20, 'gen_ai.response.finish_reasons': ['tool-calls'], 'troupe.agent.journaled': false }),
      expect.objectContaining({ 'gen_ai.usage.input_tokens': 150, 'gen_ai.usage.output_tokens': 5, 'gen_ai.response.finish_reasons': ['stop'] }),
    ]);
    const tools = spans.filter((s) => s.attributes['gen_ai.operation.name'] === 'execute_tool');
    expect(tools.map((s) => [s.name, s.attributes['gen_ai.tool.call.id'], s.status.code]).sort()).toEqual([['execute_tool lookupOrder', 'c1', 0], ['execute_tool nope', 'c2', 2]]);
  });
});
