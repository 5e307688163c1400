import assert from "node:assert/strict";
import { RelayMetrics } from "../observability/relay_metrics.ts";
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
  cache.close();
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
  cache.close();
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
  cache.close();
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
  cache.close();
});

Deno.test("expired entries leave on the next store, without a lookup of their key", async () => {
  let now = 0;
  const cache = new IdempotencyCache({
    ttlMs: 100,
    maxEntries: 100,
    maxBytes: 1024,
    now: () => now,
  });
  const ok = () => Promise.resolve(response("x"));
  await cache.run("a", "fp", ok);
  await cache.run("b", "fp", ok);
  now = 60;
  await cache.run("c", "fp", ok);
  assert.equal(cache.size, 3);
  now = 100; // a and b expire; c has 60 ms left
  await cache.run("d", "fp", ok);
  assert.equal(cache.size, 2);
  assert.equal(cache.bytes, 2);
  cache.close();
});

Deno.test("expired entries leave as time passes, with no traffic at all", async () => {
  const cache = new IdempotencyCache({
    ttlMs: 20,
    maxEntries: 100,
    maxBytes: 1024,
  });
  await cache.run("a", "fp", () => Promise.resolve(response("x")));
  await cache.run("b", "fp", () => Promise.resolve(response("y")));
  assert.equal(cache.size, 2);
  const deadline = Date.now() + 2000;
  while (cache.size > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(cache.size, 0, "the sweep timer removed the expired entries");
  assert.equal(cache.bytes, 0);
  cache.close();
});

Deno.test("a cached payload holds only its own bytes, not the buffer it was decoded from", async () => {
  const cache = new IdempotencyCache({
    ttlMs: 1000,
    maxEntries: 100,
    maxBytes: 1024 * 1024,
  });
  // A small payload decoded as a view into a large received message.
  const message = new Uint8Array(64 * 1024).fill(7);
  const view = message.subarray(100, 104);
  const small = { ...response(""), encrypted_payload: view };
  await cache.run("small", "fp", () => Promise.resolve(small));
  const cached = await cache.run("small", "fp", () => Promise.resolve(small));
  assert.equal(cached.outcome, "cached");
  assert.deepEqual([...cached.response.encrypted_payload], [7, 7, 7, 7]);
  assert.equal(cached.response.encrypted_payload.buffer.byteLength, 4);
  assert.equal(cache.bytes, 4);

  // A view that (nearly) fills its buffer is kept: the whole buffer counts.
  const nearlyWhole = new Uint8Array(1040).subarray(16);
  await cache.run(
    "large",
    "fp",
    () => Promise.resolve({ ...response(""), encrypted_payload: nearlyWhole }),
  );
  assert.equal(cache.bytes, 4 + 1040);
  cache.close();
});

Deno.test("relay_idempotency_cache reports the cache's entries and bytes", async () => {
  const cache = new IdempotencyCache({
    ttlMs: 1000,
    maxEntries: 100,
    maxBytes: 1024,
  });
  const metrics = new RelayMetrics();
  metrics.watchIdempotencyCache(cache);
  const gauge = async () =>
    (await metrics.registry.getSingleMetric("relay_idempotency_cache")!.get())
      .values.map(({ labels, value }) => [labels.measure, value]);
  await cache.run("a", "fp", () => Promise.resolve(response("xyz")));
  await cache.run("b", "fp", () => Promise.resolve(response("12345")));
  assert.deepEqual(await gauge(), [["entries", 2], ["bytes", 8]]);
  cache.close();
  assert.deepEqual(await gauge(), [["entries", 0], ["bytes", 0]]);
});
