/**
 * Spans of model and tool calls (issue 12), named and attributed after OpenTelemetry's GenAI semantic conventions:
 * `chat <model>` with `gen_ai.operation.name`, `gen_ai.provider.name`, `gen_ai.request.model`,
 * `gen_ai.response.model`, `gen_ai.usage.input_tokens` / `output_tokens` and `gen_ai.response.finish_reasons`;
 * `execute_tool <name>` with `gen_ai.tool.name` and `gen_ai.tool.call.id`. The span is active while the call runs,
 * so an instrumented HTTP client's spans nest under it. Without an SDK the API's no-op tracer makes this free.
 */
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { TokenUsage } from '../trace-entry.js';

const tracer = trace.getTracer('troupe');

export interface ModelCall {
  readonly provider: string | undefined;
  readonly model: string | undefined;
}

export interface ModelAnswer {
  readonly model?: string | undefined;
  readonly usage?: TokenUsage | undefined;
  readonly stopReason?: string | undefined;
}

/** Runs `call` in a `chat` span; `journaled` answers are marked so (no model was paid for them). */
export async function inModelSpan<T extends ModelAnswer>(call: ModelCall, run: () => Promise<{ answer: T; journaled: boolean }>): Promise<T> {
  const span = tracer.startSpan(`chat${call.model ? ` ${call.model}` : ''}`, {
    kind: SpanKind.CLIENT,
    attributes: {
      'gen_ai.operation.name': 'chat',
      ...(call.provider ? { 'gen_ai.provider.name': call.provider } : {}),
      ...(call.model ? { 'gen_ai.request.model': call.model } : {}),
    },
  });
  return within(span, async () => {
    const { answer, journaled } = await run();
    span.setAttribute('troupe.agent.journaled', journaled);
    if (answer.model) span.setAttribute('gen_ai.response.model', answer.model);
    if (answer.usage) {
      span.setAttribute('gen_ai.usage.input_tokens', answer.usage.inputTokens);
      span.setAttribute('gen_ai.usage.output_tokens', answer.usage.outputTokens);
    }
    if (answer.stopReason) span.setAttribute('gen_ai.response.finish_reasons', [answer.stopReason]);
    return answer;
  });
}

/** Runs a tool call in an `execute_tool` span; a result flagged `isError` marks the span failed. */
export async function inToolSpan<T extends { readonly isError?: boolean }>(tool: string, callId: string, run: () => Promise<T>): Promise<T> {
  const span = tracer.startSpan(`execute_tool ${tool}`, {
    kind: SpanKind.INTERNAL,
    attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': tool, 'gen_ai.tool.call.id': callId },
  });
  return within(span, async () => {
    const result = await run();
    if (result.isError) span.setStatus({ code: SpanStatusCode.ERROR, message: 'the tool failed' });
    return result;
  });
}

/** Runs `run` with `span` active; a throw marks the span failed; the span ends either way. */
async function within<T>(span: Span, run: () => Promise<T>): Promise<T> {
  try {
    return await context.with(trace.setSpan(context.active(), span), run);
  } catch (error) {
    fail(span, error);
    throw error;
  } finally {
    span.end();
  }
}

function fail(span: Span, error: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  if (error instanceof Error) span.recordException(error);
}
