import assert from "node:assert/strict";
import { reconnectDelayMs } from "./reconnect_backoff.ts";

const bounds = { minMs: 500, maxMs: 30_000 };

Deno.test("reconnect delay grows exponentially up to the maximum", () => {
  const top = (attempt: number) => reconnectDelayMs(attempt, bounds, () => 1);
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 20, 1000].map(top), [
    500,
    1000,
    2000,
    4000,
    8000,
    16000,
    30000,
    30000,
    30000,
    30000,
  ]);
});

Deno.test("reconnect delay is jittered between the minimum and the ceiling", () => {
  assert.equal(reconnectDelayMs(5, bounds, () => 0), 500);
  assert.equal(reconnectDelayMs(5, bounds, () => 0.5), 500 + 0.5 * 15500);
  const samples = Array.from(
    { length: 200 },
    () => reconnectDelayMs(3, bounds),
  );
  assert.ok(samples.every((delay) => delay >= 500 && delay <= 4000));
  assert.ok(new Set(samples).size > 100, "delays differ between attempts");
});
