import assert from "node:assert/strict";
import { TokenBucket } from "./token_bucket.ts";

function clock(start = 0) {
  const c = { ms: start, now: () => c.ms };
  return c;
}

Deno.test("a bucket starts full, refuses when empty and refills lazily", () => {
  const c = clock();
  const bucket = new TokenBucket({ perSecond: 10, burst: 5, now: c.now });
  for (let i = 0; i < 5; i++) assert.ok(bucket.tryTake());
  assert.equal(bucket.tryTake(), false);
  assert.equal(bucket.retryAfterMs(), 100);
  c.ms = 100;
  assert.ok(bucket.tryTake(), "one token after 100 ms at 10/s");
  assert.equal(bucket.tryTake(), false);
  c.ms = 60_000;
  assert.equal(bucket.tokens, 5, "refill is capped at burst");
  assert.ok(bucket.full);
});

Deno.test("tryTake(n) is all-or-nothing and n > burst never succeeds", () => {
  const c = clock();
  const bucket = new TokenBucket({ perSecond: 1, burst: 10, now: c.now });
  assert.equal(bucket.tryTake(11), false);
  assert.equal(bucket.retryAfterMs(11), Infinity);
  assert.ok(bucket.tryTake(7));
  assert.equal(bucket.tryTake(4), false, "3 left: nothing is taken");
  assert.equal(bucket.tokens, 3);
  assert.ok(bucket.tryTake(3));
  c.ms = 1_000_000;
  assert.ok(bucket.tryTake(10), "exactly burst succeeds when full");
});

Deno.test("charge goes into debt and later takes wait for the refill", () => {
  const c = clock();
  const bucket = new TokenBucket({ perSecond: 100, burst: 100, now: c.now });
  bucket.charge(300);
  assert.equal(bucket.tokens, -200);
  assert.equal(bucket.tryTake(0), false, "in debt even a zero take is refused");
  assert.equal(bucket.retryAfterMs(1), 2010);
  c.ms = 2000;
  assert.equal(bucket.tryTake(1), false);
  c.ms = 2010;
  assert.ok(bucket.tryTake(1));
  assert.equal(bucket.full, false);
});

Deno.test("give refunds up to burst", () => {
  const c = clock();
  const bucket = new TokenBucket({ perSecond: 1, burst: 4, now: c.now });
  assert.ok(bucket.tryTake(3));
  bucket.give(3);
  assert.equal(bucket.tokens, 4);
  bucket.give(10);
  assert.equal(bucket.tokens, 4, "never above burst");
});

Deno.test("perSecond 0 is unlimited", () => {
  const bucket = new TokenBucket({ perSecond: 0, burst: 1, now: () => 0 });
  assert.ok(bucket.unlimited);
  for (let i = 0; i < 1000; i++) assert.ok(bucket.tryTake(1000));
  bucket.charge(1e12);
  assert.ok(bucket.tryTake());
  assert.equal(bucket.retryAfterMs(1e9), 0);
});

Deno.test("a clock that steps back mints nothing", () => {
  const c = clock(10_000);
  const bucket = new TokenBucket({ perSecond: 1, burst: 2, now: c.now });
  assert.ok(bucket.tryTake(2));
  c.ms = 5_000;
  assert.equal(bucket.tryTake(), false);
  c.ms = 10_999;
  assert.equal(bucket.tryTake(), false, "elapsed counts from the latest time");
  c.ms = 11_000;
  assert.ok(bucket.tryTake());
});

Deno.test("invalid sizes are refused", () => {
  assert.throws(() => new TokenBucket({ perSecond: -1, burst: 1 }), RangeError);
  assert.throws(() => new TokenBucket({ perSecond: 1, burst: 0 }), RangeError);
  assert.throws(
    () => new TokenBucket({ perSecond: NaN, burst: 1 }),
    RangeError,
  );
});
