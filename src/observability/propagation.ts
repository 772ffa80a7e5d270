/**
 * Trace context for messages (issue 12). When the application has registered an OpenTelemetry SDK, a message carries
 * the context it was sent in — locally as the `Context` object, between nodes as the registered propagator's fields
 * (W3C `traceparent`/`tracestate` by default) inside each envelope — and its handling is a span under it, so a
 * conversation across actors and nodes is one trace.
 *
 * Why inside the envelope and not in NATS headers: tells to one address travel batched, many envelopes per NATS
 * message (rpc-endpoint.ts), each from its own context; a header could carry only one.
 *
 * The tell path must cost nothing without an SDK: whether one is registered is read once per second (and when a
 * system starts), not per message. `context.active()` alone costs a lookup per call.
 */
import { context, propagation, ProxyTracerProvider, ROOT_CONTEXT, trace, type Context, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

/** Used when the application registered a tracer but no propagator: W3C trace context, the default everywhere. */
const w3c = new W3CTraceContextPropagator();

let tracer: Tracer | undefined;
let refresher: ReturnType<typeof setInterval> | undefined;

/** Reads whether an SDK tracer provider is registered now; keeps reading it every second (unref'd). */
export function watchTracing(): void {
  refreshTracing();
  refresher ??= setInterval(refreshTracing, 1_000).unref();
}

function refreshTracing(): void {
  tracer = sdkTracer();
}

/** The registered SDK's tracer now, or undefined: the API's global is a proxy that delegates once an SDK registers. */
function sdkTracer(): Tracer | undefined {
  const provider = trace.getTracerProvider();
  return provider instanceof ProxyTracerProvider ? provider.getDelegateTracer('troupe') : provider.getTracer('troupe');
}

/** Whether an SDK is registered now (read live, not at the last refresh). */
export function tracingRegistered(): boolean {
  return sdkTracer() !== undefined;
}

/** The SDK's tracer, or undefined when none is registered (then nothing is traced). */
export function activeTracer(): Tracer | undefined {
  return tracer;
}

/** The context a message sent now belongs to: undefined without an SDK or outside any span. */
export function sendingContext(): Context | undefined {
  if (tracer === undefined) return undefined;
  const active = context.active();
  return trace.getSpan(active) === undefined ? undefined : active;
}

/** The propagator's fields for `ctx` (e.g. `{ traceparent }`), for an envelope; undefined when there are none. */
export function injectContext(ctx: Context | undefined): Record<string, string> | undefined {
  if (ctx === undefined) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  if (Object.keys(carrier).length === 0) w3c.inject(ctx, carrier, { set: (c, k, v) => void (c[k] = v) });
  return Object.keys(carrier).length > 0 ? carrier : undefined;
}

/** The context an envelope's fields name, for the receiving side; undefined without fields or an SDK. */
export function extractContext(carrier: Readonly<Record<string, string>> | undefined): Context | undefined {
  if (carrier === undefined || tracer === undefined) return undefined;
  let extracted = propagation.extract(ROOT_CONTEXT, carrier);
  if (trace.getSpan(extracted) === undefined) extracted = w3c.extract(ROOT_CONTEXT, carrier, { get: (c, k) => c[k], keys: (c) => Object.keys(c) });
  return trace.getSpan(extracted) === undefined ? undefined : extracted;
}
