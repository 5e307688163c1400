import assert from "node:assert/strict";
import { backoffDelay, nextAttempt } from "./backoff.ts";

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

Deno.test("refused connections stop growing the attempt at the refused ceiling; other failures grow it", () => {
  const options = { initialMs: 500, maxMs: 30_000, refusedMaxMs: 2000 };
  let attempt = 0;
  for (let i = 0; i < 10; i++) attempt = nextAttempt(attempt, true, options);
  assert.equal(attempt, 2, "ceiling 500 * 2^2 = 2000 ms");
  assert.equal(
    backoffDelay(attempt, { ...options, random: () => 0.999 }),
    1998,
  );
  assert.equal(
    nextAttempt(attempt, false, options),
    3,
    "a failure at the relay grows it",
  );
  assert.equal(nextAttempt(6, true, options), 6, "a refusal never lowers it");
});
