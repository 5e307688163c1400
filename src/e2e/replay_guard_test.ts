import assert from "node:assert/strict";
import { RelayError } from "../errors/relay_error.ts";
import { ReplayGuard } from "./replay_guard.ts";

const enc = (n: number) => {
  const bytes = new Uint8Array(32);
  new DataView(bytes.buffer).setUint32(0, n);
  return bytes;
};

function refused(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof RelayError);
    assert.equal(error.code, "INVALID_REQUEST");
    assert.match(error.message, pattern);
    return true;
  };
}

Deno.test("a replayed enc is refused, fresh ones pass", () => {
  let now = 1_000_000;
  const guard = new ReplayGuard({ windowMs: 1000, now: () => now });
  guard.check(enc(1), now);
  guard.check(enc(2), now);
  assert.throws(() => guard.check(enc(1), now), refused(/replayed/));
  now += 500;
  assert.throws(() => guard.check(enc(2), now - 500), refused(/replayed/));
});

Deno.test("requests outside the window are stale or from the future", () => {
  let now = 1_000_000;
  const guard = new ReplayGuard({ windowMs: 1000, now: () => now });
  now += 5000;
  assert.throws(() => guard.check(enc(1), now - 1001), refused(/stale/));
  assert.throws(
    () => guard.check(enc(2), now + 1001),
    refused(/in the future/),
  );
  guard.check(enc(3), now - 1000);
  guard.check(enc(4), now + 1000);
});

Deno.test("requests sealed before the guard existed are refused", () => {
  const now = 1_000_000;
  const guard = new ReplayGuard({ windowMs: 60_000, now: () => now });
  assert.throws(
    () => guard.check(enc(1), now - 1),
    refused(/before this device agent started/),
  );
  guard.check(enc(2), now);
});

Deno.test("the cache is bounded: evicted entries raise the floor", () => {
  let now = 1_000_000;
  const guard = new ReplayGuard({
    windowMs: 60_000,
    maxEntries: 3,
    now: () => now,
  });
  for (let n = 1; n <= 5; n++) {
    now += 10;
    guard.check(enc(n), now);
    assert.ok(guard.size <= 3);
  }
  // enc 1 and 2 were evicted; replaying them is refused all the same.
  assert.throws(() => guard.check(enc(1), 1_000_010), refused(/stale/));
  assert.throws(() => guard.check(enc(2), 1_000_020), refused(/stale/));
  assert.throws(() => guard.check(enc(5), now), refused(/replayed/));
  guard.check(enc(6), now);
});

Deno.test("expired entries are swept", () => {
  let now = 1_000_000;
  const guard = new ReplayGuard({ windowMs: 1000, now: () => now });
  for (let n = 1; n <= 100; n++) guard.check(enc(n), now);
  assert.equal(guard.size, 100);
  now += 2000;
  guard.check(enc(1000), now);
  assert.equal(guard.size, 1);
});

Deno.test("record reports a replay without throwing; checkFresh checks the window only", () => {
  const now = 1_000_000;
  const guard = new ReplayGuard({ windowMs: 1000, now: () => now });
  guard.checkFresh(now);
  assert.equal(guard.record(enc(1), now), true);
  assert.equal(guard.record(enc(1), now), false);
  assert.equal(guard.size, 1);
  assert.throws(() => guard.checkFresh(now - 1001), refused(/stale/));
});
