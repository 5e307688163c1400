import assert from "node:assert/strict";
import {
  configSchema,
  type RelayConfigInput,
} from "../config/config_schema.ts";
import { RelayError } from "../errors/relay_error.ts";
import {
  rateLimitedError,
  RateLimits,
  type RateLimitsConfig,
} from "./rate_limits.ts";

type RateLimitsInput = NonNullable<
  NonNullable<RelayConfigInput["relay"]>["rate_limits"]
>;

/** Parsed through the real schema so the tests follow its defaults and types. */
function config(input: RateLimitsInput): RateLimitsConfig {
  return configSchema.parse({
    relay: { request: { max_payload_bytes: 10 }, rate_limits: input },
  }).relay.rate_limits;
}

const UNLIMITED = { per_second: 0, burst: 1 };
const ONLY_REQUESTS = {
  connections: {
    device: UNLIMITED,
    controller: UNLIMITED,
    global: UNLIMITED,
  },
  bytes: { device: UNLIMITED, controller: UNLIMITED, global: UNLIMITED },
};

function clock() {
  const c = { ms: 0, now: () => c.ms };
  return c;
}

Deno.test("requests are limited per device, per controller and globally", () => {
  const c = clock();
  const limits = new RateLimits(
    config({
      ...ONLY_REQUESTS,
      requests: {
        device: { per_second: 1, burst: 2 },
        controller: { per_second: 1, burst: 3 },
        global: { per_second: 1, burst: 5 },
      },
    }),
    { now: c.now },
  );
  assert.equal(limits.admitRequest("c1", "d1", 0), undefined);
  assert.equal(limits.admitRequest("c1", "d1", 0), undefined);
  assert.deepEqual(limits.admitRequest("c1", "d1", 0), {
    limit: "requests.device",
    retryAfterMs: 1000,
  });
  assert.equal(limits.admitRequest("c1", "d2", 0), undefined);
  assert.equal(
    limits.admitRequest("c1", "d3", 0)?.limit,
    "requests.controller",
  );
  assert.equal(limits.admitRequest("c2", "d3", 0), undefined);
  assert.equal(limits.admitRequest("c3", "d4", 0), undefined);
  assert.equal(limits.admitRequest("c4", "d5", 0)?.limit, "requests.global");
  c.ms = 1000;
  assert.equal(limits.admitRequest("c4", "d5", 0), undefined, "refilled");
});

Deno.test("a refused check gives back what it took from the other buckets", () => {
  const c = clock();
  const limits = new RateLimits(
    config({
      requests: {
        device: { per_second: 0.001, burst: 2 },
        controller: { per_second: 0.001, burst: 3 },
        global: { per_second: 0.001, burst: 100 },
      },
      bytes: {
        device: { per_second: 0.001, burst: 100 },
        controller: UNLIMITED,
        global: UNLIMITED,
      },
    }),
    { now: c.now },
  );
  assert.equal(limits.admitRequest("c", "d", 80), undefined);
  assert.equal(limits.admitRequest("c", "d", 50)?.limit, "bytes.device");
  // Without the refund the device's second request token would be gone.
  assert.equal(limits.admitRequest("c", "d", 20), undefined);
  assert.equal(limits.admitRequest("c", "d", 0)?.limit, "requests.device");
  // The controller paid for two admitted requests out of three, not four.
  assert.equal(limits.admitRequest("c", "d2", 0), undefined);
  assert.equal(limits.admitRequest("c", "d3", 0)?.limit, "requests.controller");
});

Deno.test("response bytes are charged into debt and refuse later requests", () => {
  const c = clock();
  const limits = new RateLimits(
    config({
      bytes: {
        device: { per_second: 100, burst: 100 },
        controller: UNLIMITED,
        global: { per_second: 1000, burst: 1000 },
      },
    }),
    { now: c.now },
  );
  limits.chargeResponseBytes("c", "d", 300);
  assert.deepEqual(limits.admitRequest("c", "d", 0), {
    limit: "bytes.device",
    retryAfterMs: 2000,
  });
  assert.equal(limits.admitRequest("c", "other", 0), undefined);
  c.ms = 2000;
  assert.equal(limits.admitRequest("c", "d", 0), undefined);
  limits.chargeResponseBytes("c", "x", 5000); // global goes 4000 into debt
  assert.equal(limits.admitRequest("c", "y", 1)?.limit, "bytes.global");
});

Deno.test("device connections and controller streams share the global connection bucket", () => {
  const c = clock();
  const limits = new RateLimits(
    config({
      connections: {
        device: { per_second: 1, burst: 2 },
        controller: { per_second: 1, burst: 2 },
        global: { per_second: 1, burst: 4 },
      },
    }),
    { now: c.now },
  );
  assert.equal(limits.admitDeviceConnection("d1"), undefined);
  assert.equal(limits.admitDeviceConnection("d1"), undefined);
  assert.equal(limits.admitDeviceConnection("d1")?.limit, "connections.device");
  assert.equal(limits.admitControllerStream("c1"), undefined);
  assert.equal(limits.admitControllerStream("c1"), undefined);
  assert.equal(
    limits.admitControllerStream("c1")?.limit,
    "connections.controller",
  );
  assert.equal(limits.admitDeviceConnection("d2")?.limit, "connections.global");
  assert.equal(limits.admitControllerStream("c2")?.limit, "connections.global");
});

Deno.test("enabled: false admits everything and keeps no buckets", () => {
  const limits = new RateLimits(
    config({
      enabled: false,
      requests: {
        device: { per_second: 1, burst: 1 },
        controller: { per_second: 1, burst: 1 },
        global: { per_second: 1, burst: 1 },
      },
    }),
    { now: () => 0 },
  );
  for (let i = 0; i < 100; i++) {
    assert.equal(limits.admitRequest("c", "d", 10), undefined);
    assert.equal(limits.admitDeviceConnection("d"), undefined);
    assert.equal(limits.admitControllerStream("c"), undefined);
    limits.chargeResponseBytes("c", "d", 1e12);
  }
  assert.ok(limits.bucketCounts().every((b) => b.count === 0));
});

Deno.test("bucket counts are bounded by max_buckets and drop after idle_seconds", () => {
  const c = clock();
  const limits = new RateLimits(
    config({ idle_seconds: 1, max_buckets: 50 }),
    { now: c.now },
  );
  for (let i = 0; i < 200; i++) limits.admitRequest(`c${i % 3}`, `d${i}`, 1);
  const count = (kind: string, scope: string) =>
    limits.bucketCounts().find((b) => b.kind === kind && b.scope === scope)
      ?.count;
  assert.equal(count("requests", "device"), 50);
  assert.equal(count("requests", "controller"), 3);
  assert.equal(count("bytes", "device"), 50);
  assert.equal(count("connections", "device"), 0);
  c.ms = 1000;
  for (let i = 0; i < 40; i++) limits.admitRequest("c0", "d0", 1);
  assert.equal(count("requests", "device"), 1);
  assert.equal(count("requests", "controller"), 1);
});

Deno.test("rateLimitedError names the limit and is retryable unless it can never pass", () => {
  const error = rateLimitedError({
    limit: "requests.device",
    retryAfterMs: 250,
  });
  assert.ok(error instanceof RelayError);
  assert.equal(error.code, "RATE_LIMITED");
  assert.equal(error.source, "downstream");
  assert.equal(error.retryable, true);
  assert.match(error.message, /requests\.device.*0\.250 s/);
  const never = rateLimitedError({
    limit: "bytes.global",
    retryAfterMs: Infinity,
  });
  assert.equal(never.retryable, false);
  assert.match(never.message, /bytes\.global/);
});

Deno.test("RateLimits: shared controller usage is reported once and charged by the other relays", () => {
  const c = clock();
  const limits = config({
    requests: { controller: { per_second: 1, burst: 3 } },
  });
  const here = new RateLimits(limits, { now: c.now });
  const there = new RateLimits(limits, { now: c.now });
  here.shareControllerUsage();
  for (let i = 0; i < 3; i++) {
    assert.equal(here.admitRequest("ctl-1", `dev-${i}`, 10), undefined);
  }
  here.chargeResponseBytes("ctl-1", "dev-0", 5);
  const usage = here.takeControllerUsage();
  assert.deepEqual(usage, [{ controllerId: "ctl-1", requests: 3, bytes: 35 }]);
  // A relay that does not share keeps nothing.
  there.admitRequest("ctl-2", "dev-0", 1);
  assert.deepEqual(there.takeControllerUsage(), []);
  assert.deepEqual(here.takeControllerUsage(), []);
  // Without the report the other relay's bucket is full; with it, empty.
  there.chargeControllerUsage(usage[0]!);
  assert.equal(
    there.admitRequest("ctl-1", "dev-9", 10)?.limit,
    "requests.controller",
  );
  c.ms += 1000;
  assert.equal(there.admitRequest("ctl-1", "dev-9", 10), undefined);
});
