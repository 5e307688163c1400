import assert from "node:assert/strict";
import { MetricsHistory, quantile } from "./metrics_history.ts";
import { RelayMetrics } from "./relay_metrics.ts";

Deno.test("quantile interpolates within the bucket, as histogram_quantile does", () => {
  const buckets = [
    { le: 0.01, cumulative: 50 },
    { le: 0.1, cumulative: 100 },
    { le: Infinity, cumulative: 100 },
  ];
  assert.equal(quantile(buckets, 0.5), 0.01);
  assert.ok(Math.abs(quantile(buckets, 0.75)! - 0.055) < 1e-9);
  assert.equal(quantile([{ le: Infinity, cumulative: 0 }], 0.5), null);
  // In the +Inf bucket: the highest finite bound.
  assert.equal(
    quantile(
      [{ le: 1, cumulative: 1 }, { le: Infinity, cumulative: 10 }],
      0.99,
    ),
    1,
  );
});

Deno.test("samples are rates over the interval and the ring is bounded", async () => {
  let now = 0;
  const metrics = new RelayMetrics(() => [
    { state: "online", transport: "quic" },
    { state: "online", transport: "h2" },
    { state: "online", transport: "quic" },
  ]);
  const history = new MetricsHistory({
    registry: metrics.registry,
    intervalMs: 1000,
    now: () => now,
  });
  await history.sample(); // the baseline
  for (let i = 0; i < 10; i++) {
    metrics.requests.inc({ code: i < 8 ? "OK" : "DEVICE_OFFLINE" });
    metrics.requestDuration.observe({ code: "OK" }, 0.004);
  }
  now += 2000;
  await history.sample();
  const sample = history.samples().at(-1)!;
  assert.equal(sample.requestsPerSecond, 5);
  assert.equal(sample.errorsPerSecond, 1);
  assert.ok(sample.p50Seconds! > 0.0025 && sample.p50Seconds! <= 0.005);
  assert.deepEqual(sample.devicesByTransport, { quic: 2, h2: 1 });
  assert.equal(history.capacity, 900);
  for (let i = 0; i < 1000; i++) {
    now += 1000;
    await history.sample();
  }
  assert.equal(history.samples().length, 900);
  assert.equal(history.samples().at(-1)!.p50Seconds, null, "no requests");
});
