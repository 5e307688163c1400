// Idempotency, error codes and cancellation of controller requests (split from
// requests_test.ts to keep each test process short).
import assert from "node:assert/strict";
import { RelayError } from "../src/errors/relay_error.ts";
import type { DeviceHandler } from "../src/sdk/device_agent.ts";
import { contractTest, decode, encode, hangUntilAborted } from "./harness.ts";

contractTest(
  "an idempotent replay returns the cached response without a second delivery",
  {},
  async (t) => {
    const agent = await t.device("idem-1", { echo: false });
    let deliveries = 0;
    agent.handle("count", () => encode(`delivery ${++deliveries}`));
    const session = t.controller().openSession("idem-1");
    const first = await session.call("count", encode("x"), {
      sequenceNumber: 42,
    });
    const replay = await session.call("count", encode("x"), {
      sequenceNumber: 42,
    });
    assert.equal(decode(first), "delivery 1");
    assert.equal(decode(replay), "delivery 1");
    assert.equal(deliveries, 1);
    const fresh = await session.call("count", encode("x"), {
      sequenceNumber: 43,
    });
    assert.equal(decode(fresh), "delivery 2");

    // The same sequence number from another controller is its own request.
    const other = await t.token("operator", {
      id: "other-controller",
      projects: ["default"],
    });
    const otherReply = await t.controller(other).call(
      "idem-1",
      "count",
      encode("x"),
      {
        sequenceNumber: 42,
      },
    );
    assert.equal(decode(otherReply), "delivery 3");
    assert.equal(deliveries, 3);
  },
);

contractTest(
  "a duplicate arriving while the first is in flight joins it",
  {},
  async (t) => {
    const agent = await t.device("join-1", { echo: false });
    let deliveries = 0;
    agent.handle("slow", async () => {
      deliveries++;
      await new Promise((resolve) => setTimeout(resolve, 100));
      return encode("done");
    });
    const session = t.controller().openSession("join-1");
    const [a, b] = await Promise.all([
      session.call("slow", encode("x"), { sequenceNumber: 5 }),
      session.call("slow", encode("x"), { sequenceNumber: 5 }),
    ]);
    assert.equal(decode(a), "done");
    assert.equal(decode(b), "done");
    assert.equal(deliveries, 1);
  },
);

contractTest(
  "failed responses are not cached: a retry reaches the device again",
  {},
  async (t) => {
    const agent = await t.device("retry-1", { echo: false });
    let attempts = 0;
    // Retryable, so the device's own answer cache does not keep it either.
    const flaky: DeviceHandler = () => {
      if (++attempts === 1) {
        throw new RelayError("UNAVAILABLE", "transient failure");
      }
      return encode("ok on retry");
    };
    agent.handle("flaky", flaky);
    const session = t.controller().openSession("retry-1");
    await assert.rejects(
      session.call("flaky", encode("x"), { sequenceNumber: 9 }),
      (error: RelayError) =>
        error.code === "UNAVAILABLE" &&
        error.message === "transient failure",
    );
    const retried = await session.call("flaky", encode("x"), {
      sequenceNumber: 9,
    });
    assert.equal(decode(retried), "ok on retry");
    assert.equal(attempts, 2);
  },
);

contractTest("every request gets exactly one answer with its code", {
  config: { "relay.request.max_payload_bytes": 1024 },
}, async (t) => {
  const agent = await t.device("codes-1", { echo: false });
  agent.handle("echo", (request) => request.payload);
  agent.handle("crash", () => {
    throw new Error("boom");
  });
  agent.handle("busy", () => {
    throw new RelayError("RATE_LIMITED", "device is busy");
  });
  agent.handle("hang", hangUntilAborted);
  t.registerDevice("offline-1");
  const session = t.controller().openSession("codes-1");
  const code = async (
    method: string,
    payload = encode("x"),
    timeoutMs?: number,
  ) => {
    const response = await session.request(
      method,
      payload,
      timeoutMs ? { timeoutMs } : {},
    );
    return response.error;
  };
  assert.equal(await code("echo"), "OK");
  assert.equal(await code("crash"), "INTERNAL_ERROR");
  assert.equal(await code("busy"), "RATE_LIMITED");
  assert.equal(await code("unknown-method"), "METHOD_NOT_FOUND");
  assert.equal(await code("hang", encode("x"), 50), "DEADLINE_EXCEEDED");
  assert.equal(await code("echo", new Uint8Array(2048)), "INVALID_REQUEST");
  assert.equal(await code(""), "INVALID_REQUEST");

  const admin = t.controller();
  const offline = await admin.openSession("offline-1").request(
    "echo",
    encode("x"),
  );
  assert.equal(offline.error, "DEVICE_OFFLINE");
  const missing = await admin.openSession("no-such-device").request(
    "echo",
    encode("x"),
  );
  assert.equal(missing.error, "DEVICE_NOT_FOUND");
  assert.equal(missing.device_id, "no-such-device");

  const outsider = await t.token("operator", { projects: ["elsewhere"] });
  const denied = await t.controller(outsider).openSession("codes-1").request(
    "echo",
    encode("x"),
  );
  assert.equal(denied.error, "UNAUTHORIZED");
  // The same answer for an unknown device: nothing leaks about what exists.
  const deniedMissing = await t.controller(outsider).openSession(
    "no-such-device",
  )
    .request("echo", encode("x"));
  assert.equal(deniedMissing.error, "UNAUTHORIZED");
  assert.equal(deniedMissing.error_message, denied.error_message);

  const viewer = await t.token("viewer", { projects: ["default"] });
  const readOnly = await t.controller(viewer).openSession("codes-1").request(
    "echo",
    encode("x"),
  );
  assert.equal(readOnly.error, "PERMISSION_DENIED");

  // The stream survived every failure above.
  assert.equal(
    decode(await session.call("echo", encode("still fine"))),
    "still fine",
  );
});

contractTest(
  "cancelling a call rejects it locally with CANCELLED",
  {},
  async (t) => {
    const agent = await t.device("cancel-1", { echo: false });
    agent.handle("hang", hangUntilAborted);
    const aborter = new AbortController();
    const call = t.controller().call("cancel-1", "hang", encode("x"), {
      signal: aborter.signal,
      timeoutMs: 200,
    });
    aborter.abort();
    await assert.rejects(
      call,
      (error: RelayError) => error.code === "CANCELLED",
    );
  },
);

contractTest(
  "sequence number 0 is never deduplicated and a reused number needs the same request",
  {},
  async (t) => {
    await t.device("seq-1");
    const session = t.controller().openSession("seq-1");
    assert.equal(
      decode(
        await session.call("echo", encode("first"), { sequenceNumber: 0 }),
      ),
      "first",
    );
    assert.equal(
      decode(
        await session.call("echo", encode("second"), { sequenceNumber: 0 }),
      ),
      "second",
    );
    await session.call("echo", encode("original"), { sequenceNumber: 11 });
    const reused = await session.request("echo", encode("different"), {
      sequenceNumber: 11,
    });
    assert.equal(reused.error, "INVALID_REQUEST");
    assert.match(reused.error_message, /already used for a different request/);
  },
);
