import assert from "node:assert/strict";
import {
  activeTraceId,
  endSpan,
  SpanKind,
  startSpan,
  traceparentOf,
  tracingOn,
  withSpan,
} from "./tracing.ts";

// The test runner has no OTEL_DENO: this is every relay that has not asked
// for traces (test/tracing/ covers the other case, in processes of its own).
Deno.test("with OpenTelemetry off no span is started and nothing is carried", () => {
  assert.equal(Deno.env.get("OTEL_DENO") === "true", tracingOn);
  if (tracingOn) return;
  const span = startSpan("relay.route", SpanKind.SERVER, { a: "b" }, "");
  assert.equal(span, undefined);
  assert.equal(traceparentOf(span), "");
  assert.equal(withSpan(span, () => activeTraceId()), undefined);
  endSpan(span, "OK"); // a no-op, not a throw
});
