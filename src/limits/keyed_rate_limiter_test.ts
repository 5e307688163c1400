import assert from "node:assert/strict";
import { KeyedRateLimiter } from "./keyed_rate_limiter.ts";

function clock() {
  const c = { ms: 0, now: () => c.ms };
  return c;
}

Deno.test("each key has its own bucket", () => {
  const c = clock();
  const limiter = new KeyedRateLimiter({
    perSecond: 1,
    burst: 2,
    idleMs: 60_000,
    maxKeys: 10,
    now: c.now,
  });
  assert.ok(limiter.tryTake("a", 2));
  assert.equal(limiter.tryTake("a"), false);
  assert.equal(limiter.retryAfterMs("a"), 1000);
  assert.ok(limiter.tryTake("b", 2), "b is not affected by a");
  assert.equal(limiter.retryAfterMs("never-seen"), 0);
  assert.equal(limiter.retryAfterMs("never-seen", 3), Infinity);
  c.ms = 1000;
  assert.ok(limiter.tryTake("a"));
});

Deno.test("100k distinct keys stay within maxKeys, least recently used evicted first", () => {
  const c = clock();
  const limiter = new KeyedRateLimiter({
    perSecond: 1,
    burst: 5,
    idleMs: 3_600_000,
    maxKeys: 1000,
    now: c.now,
  });
  assert.ok(limiter.tryTake("hot", 5));
  for (let i = 0; i < 100_000; i++) {
    limiter.tryTake(`caller-${i}`);
    // A key in use keeps moving to the back, so it is never the eviction victim.
    if (i % 500 === 0) assert.equal(limiter.tryTake("hot"), false);
    assert.ok(limiter.size <= 1000);
  }
  assert.equal(limiter.size, 1000);
  assert.equal(limiter.tryTake("hot"), false, "the hot key kept its state");
  assert.ok(limiter.evicted >= 99_000);
  assert.equal(limiter.retryAfterMs("caller-0"), 0, "caller-0 was evicted");
});

Deno.test("idle buckets expire by an amortised sweep, without sleeping", () => {
  const c = clock();
  const limiter = new KeyedRateLimiter({
    perSecond: 10,
    burst: 10,
    idleMs: 1000,
    maxKeys: 10_000,
    now: c.now,
  });
  for (let i = 0; i < 100; i++) limiter.tryTake(`k${i}`, 10);
  assert.equal(limiter.size, 100);
  c.ms = 999;
  limiter.tryTake("other");
  assert.equal(limiter.size, 101, "nothing is idle yet");
  c.ms = 1000;
  for (let i = 0; i < 60; i++) limiter.tryTake("other");
  assert.equal(limiter.size, 1, "only the key in use is left");
});

Deno.test("an idle bucket still in debt is kept until it is full again", () => {
  const c = clock();
  const limiter = new KeyedRateLimiter({
    perSecond: 100,
    burst: 100,
    idleMs: 1000,
    maxKeys: 100,
    now: c.now,
  });
  limiter.charge("big", 1000); // 10 s of debt: -900 tokens, full at t = 10 s
  limiter.tryTake("small", 100); // full again at t = 1 s
  c.ms = 5000;
  for (let i = 0; i < 4; i++) limiter.tryTake("other");
  assert.equal(limiter.size, 2, "'small' dropped, 'big' kept");
  assert.equal(limiter.retryAfterMs("big", 1), 4010, "-400 tokens at t = 5 s");
  assert.equal(
    limiter.tryTake("big"),
    false,
    "forgetting it would have admitted",
  );
  c.ms = 20_000;
  for (let i = 0; i < 4; i++) limiter.tryTake("other");
  assert.equal(limiter.size, 1, "'big' is full by now and dropped");
});

Deno.test("give refunds an abandoned take; perSecond 0 keeps no state", () => {
  const c = clock();
  const limiter = new KeyedRateLimiter({
    perSecond: 1,
    burst: 3,
    idleMs: 1000,
    maxKeys: 10,
    now: c.now,
  });
  assert.ok(limiter.tryTake("a", 3));
  limiter.give("a", 3);
  assert.ok(limiter.tryTake("a", 3));
  limiter.give("missing", 1); // no bucket, nothing to do

  const unlimited = new KeyedRateLimiter({
    perSecond: 0,
    burst: 1,
    idleMs: 1000,
    maxKeys: 10,
    now: c.now,
  });
  for (let i = 0; i < 100; i++) assert.ok(unlimited.tryTake(`k${i}`, 50));
  unlimited.charge("x", 1e9);
  assert.equal(unlimited.size, 0);
});
