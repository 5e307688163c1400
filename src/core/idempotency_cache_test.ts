import assert from "node:assert/strict";
import { IdempotencyCache } from "./idempotency_cache.ts";
import type { DeviceResponse } from "./messages.ts";

const response = (
  text: string,
  error: DeviceResponse["error"] = "OK",
): DeviceResponse => ({
  device_id: "d",
  sequence_number: 1,
  encrypted_payload: new TextEncoder().encode(text),
  error,
  error_message: "",
});

Deno.test("entries expire after the TTL and the oldest is evicted past max_entries", async () => {
  let now = 0;
  const cache = new IdempotencyCache({
    ttlMs: 100,
    maxEntries: 2,
    maxBytes: 1024,
    now: () => now,
  });
  let executions = 0;
  const run = (key: string) =>
    cache.run(
      key,
      "fp",
      () => Promise.resolve(response(`${key}#${++executions}`)),
    );

  assert.equal((await run("a")).outcome, "executed");
  assert.equal((await run("a")).outcome, "cached");
  now = 100;
  assert.equal((await run("a")).outcome, "executed", "expired after ttl");
  await run("b");
  await run("c"); // evicts the least recently used: "a"
  assert.equal(cache.size, 2);
  assert.equal((await run("a")).outcome, "executed");
  assert.equal((await run("c")).outcome, "cached");
});

Deno.test("errors are not cached and concurrent duplicates join one execution", async () => {
  const cache = new IdempotencyCache({
    ttlMs: 1000,
    maxEntries: 10,
    maxBytes: 1024,
  });
  const failed = await cache.run(
    "k",
    "fp",
    () => Promise.resolve(response("", "DEVICE_OFFLINE")),
  );
  assert.equal(failed.response.error, "DEVICE_OFFLINE");
  assert.equal(cache.size, 0);

  let executions = 0;
  const slow = () =>
    new Promise<DeviceResponse>((resolve) => {
      executions++;
      setTimeout(() => resolve(response("once")), 10);
    });
  const [first, second] = await Promise.all([
    cache.run("j", "fp", slow),
    cache.run("j", "fp", slow),
  ]);
  assert.equal(executions, 1);
  assert.equal(first.outcome, "executed");
  assert.equal(second.outcome, "joined");
  assert.equal(second.response, first.response);
});

Deno.test("a key reused for a different request is refused", async () => {
  const cache = new IdempotencyCache({
    ttlMs: 1000,
    maxEntries: 10,
    maxBytes: 1024,
  });
  await cache.run("k", "echo/aaa", () => Promise.resolve(response("first")));
  await assert.rejects(
    cache.run("k", "echo/bbb", () => Promise.resolve(response("second"))),
    /sequence number already used for a different request/,
  );
});

Deno.test("cached payload bytes stay under max_bytes", async () => {
  const cache = new IdempotencyCache({
    ttlMs: 1000,
    maxEntries: 100,
    maxBytes: 10,
  });
  const sized = (n: number) => () => Promise.resolve(response("x".repeat(n)));
  await cache.run("a", "fp", sized(4));
  await cache.run("b", "fp", sized(4));
  assert.equal(cache.bytes, 8);
  await cache.run("c", "fp", sized(4)); // evicts "a"
  assert.equal(cache.bytes, 8);
  assert.equal((await cache.run("a", "fp", sized(4))).outcome, "executed");
  await cache.run("huge", "fp", sized(11)); // larger than the bound: not cached
  assert.equal((await cache.run("huge", "fp", sized(11))).outcome, "executed");
  assert.ok(cache.bytes <= 10);
});
