import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { GrpcCallMetrics, OTHER_METHODS } from "./grpc_call_metrics.ts";

Deno.test("transparent call metrics keep at most 100 method labels, then count 'other'", async () => {
  const registry = new Registry();
  const metrics = new GrpcCallMetrics(registry);
  for (let i = 0; i < 150; i++) metrics.finished(`/svc.S/M${i}`, "OK", 0.001);
  metrics.finished("/svc.S/M7", "NOT_FOUND", 0.001);
  const calls = (await registry.getSingleMetric("relay_grpc_calls_total")!
    .get()).values;
  const methods = new Set(calls.map((value) => value.labels.method));
  assert.equal(methods.size, 101);
  assert.ok(methods.has(OTHER_METHODS));
  assert.ok(methods.has("/svc.S/M99") && !methods.has("/svc.S/M100"));
  const other = calls.find((value) => value.labels.method === OTHER_METHODS);
  assert.equal(other?.value, 50);
  // A path that has its label keeps it, whatever the code.
  assert.ok(
    calls.some((value) =>
      value.labels.method === "/svc.S/M7" && value.labels.code === "NOT_FOUND"
    ),
  );
});
