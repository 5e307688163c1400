import assert from "node:assert/strict";
import { FailureTracker } from "./failure_tracker.ts";

function tracker(maxKeys = 100) {
  const c = { ms: 0 };
  const t = new FailureTracker({
    maxFailures: 3,
    windowMs: 1000,
    blockMs: 5000,
    maxKeys,
    now: () => c.ms,
  });
  return { c, t };
}

Deno.test("max failures inside the window block the address for blockMs", () => {
  const { c, t } = tracker();
  assert.equal(t.recordFailure("10.0.0.1"), false);
  c.ms = 400;
  assert.equal(t.recordFailure("10.0.0.1"), false);
  assert.equal(t.isBlocked("10.0.0.1"), false);
  c.ms = 900;
  assert.equal(t.recordFailure("10.0.0.1"), true);
  assert.equal(t.isBlocked("10.0.0.1"), true);
  assert.equal(
    t.isBlocked("10.0.0.2"),
    false,
    "other addresses are unaffected",
  );
  assert.equal(t.retryAfterMs("10.0.0.1"), 5000);
  c.ms = 5000;
  assert.equal(t.recordFailure("10.0.0.1"), true, "still blocked");
  assert.equal(t.retryAfterMs("10.0.0.1"), 900, "failures do not extend it");
  c.ms = 5900;
  assert.equal(t.isBlocked("10.0.0.1"), false);
  assert.equal(t.recordFailure("10.0.0.1"), false, "the count starts over");
});

Deno.test("failures spread wider than the window never block", () => {
  const { c, t } = tracker();
  for (let i = 0; i < 20; i++) {
    c.ms = i * 501;
    assert.equal(t.recordFailure("a"), false, `failure ${i}`);
  }
  assert.equal(t.isBlocked("a"), false);
});

Deno.test("100k distinct addresses stay within maxKeys", () => {
  const { c, t } = tracker(1000);
  for (let i = 0; i < 100_000; i++) {
    c.ms = i / 1000; // all inside one window: nothing expires
    t.recordFailure(`addr-${i}`);
    assert.ok(t.size <= 1000);
  }
  assert.equal(t.size, 1000);
});

Deno.test("entries whose failures and block have run out are swept", () => {
  const { c, t } = tracker();
  for (let i = 0; i < 50; i++) t.recordFailure(`idle-${i}`);
  for (let i = 0; i < 3; i++) t.recordFailure("blocked");
  assert.equal(t.size, 51);
  c.ms = 1000;
  for (let i = 0; i < 30; i++) t.isBlocked("someone");
  assert.equal(t.size, 1, "the blocked address is still tracked");
  assert.ok(t.isBlocked("blocked"));
  c.ms = 5000;
  t.isBlocked("someone");
  assert.equal(t.size, 0);
});
