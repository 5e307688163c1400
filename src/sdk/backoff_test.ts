import assert from "node:assert/strict";
import { backoffDelay } from "./backoff.ts";

Deno.test("full-jitter backoff stays within the exponential ceiling", () => {
  const options = { initialMs: 100, maxMs: 1000 };
  assert.equal(backoffDelay(0, { ...options, random: () => 0.999 }), 99);
  assert.equal(backoffDelay(3, { ...options, random: () => 0.5 }), 400);
  assert.equal(
    backoffDelay(10, { ...options, random: () => 0.999 }),
    999,
    "capped at max",
  );
  assert.equal(
    backoffDelay(50, { ...options, random: () => 0 }),
    0,
    "full jitter reaches zero",
  );
  for (let attempt = 0; attempt < 20; attempt++) {
    const delay = backoffDelay(attempt, options);
    assert.ok(delay >= 0 && delay < Math.min(1000, 100 * 2 ** attempt));
  }
});
