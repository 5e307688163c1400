// Traces through Deno's built-in OpenTelemetry (OTEL_DENO=true registers its
// provider and W3C propagator behind @opentelemetry/api). One span per request
// at each hop: the controller SDK's call, the relay's routing, the device's
// handler, linked by W3C traceparent carried in each request (one stream
// carries many requests, so the stream's own headers cannot). Sessions and
// streams get no span of ours. Off (no provider): no span is started and
// nothing is carried; the cost is one boolean test per request.
import {
  type Attributes,
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";

export { type Span, SpanKind };

const tracer = trace.getTracer("relay");

/** Whether a provider is registered: Deno's, when OTEL_DENO=true. */
export const tracingOn: boolean = propagation.fields().includes("traceparent");

/**
 * Starts a span whose parent is `traceparent` (W3C, from the request) or,
 * without one, the active context. Undefined when tracing is off.
 */
export function startSpan(
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  traceparent = "",
): Span | undefined {
  if (!tracingOn) return undefined;
  const parent = traceparent === ""
    ? context.active()
    : propagation.extract(ROOT_CONTEXT, { traceparent });
  return tracer.startSpan(name, { kind, attributes }, parent);
}

/** The W3C traceparent naming `span` as the parent ("" without a span). */
export function traceparentOf(span: Span | undefined): string {
  if (span === undefined) return "";
  const carrier: { traceparent?: string } = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
  return carrier.traceparent ?? "";
}

/** Runs `fn` with `span` active, so spans and log lines inside it join it. */
export function withSpan<T>(span: Span | undefined, fn: () => T): T {
  return span === undefined
    ? fn()
    : context.with(trace.setSpan(context.active(), span), fn);
}

/** Ends `span` with the request's result code (an error status unless OK). */
export function endSpan(span: Span | undefined, code: string): void {
  if (span === undefined) return;
  span.setAttribute("relay.result_code", code);
  if (code !== "OK") span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}

/** The active span's trace id, for log lines; undefined without one. */
export function activeTraceId(): string | undefined {
  if (!tracingOn) return undefined;
  const spanContext = trace.getSpan(context.active())?.spanContext();
  return spanContext !== undefined && isSpanContextValid(spanContext)
    ? spanContext.traceId
    : undefined;
}
