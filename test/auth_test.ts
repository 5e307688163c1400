import assert from "node:assert/strict";
import { hashToken } from "../src/auth/token_hash.ts";
import { RelayError } from "../src/errors/relay_error.ts";
import { controllerConnector, DeviceAgent, deviceConnector } from "../mod.ts";
import {
  contractTest,
  encode,
  hangUntilAborted,
  startTestRelay,
} from "./harness.ts";
import { rawDevice } from "./raw_device.ts";

contractTest(
  "roles and projects restrict which devices a controller sees",
  {},
  async (t) => {
    await t.device("p1-a", {
      token: t.registerDevice("p1-a", "p1"),
      metadata: { region: "eu", tier: "gold" },
    });
    await t.device("p1-b", {
      token: t.registerDevice("p1-b", "p1"),
      metadata: { region: "us" },
    });
    await t.device("p2-a", {
      token: t.registerDevice("p2-a", "p2"),
      metadata: { region: "eu" },
    });
    const ids = async (token: string, options = {}) =>
      (await t.controller(token).listDevices(options)).map((d) => d.device_id)
        .sort();

    assert.deepEqual(await ids(t.relay.adminToken), ["p1-a", "p1-b", "p2-a"]);
    assert.deepEqual(
      await ids(await t.token("operator", { projects: ["p1"] })),
      ["p1-a", "p1-b"],
    );
    assert.deepEqual(await ids(await t.token("viewer", { projects: ["p2"] })), [
      "p2-a",
    ]);
    assert.deepEqual(
      await ids(await t.token("operator", { projects: [] })),
      [],
    );
    assert.deepEqual(await ids(t.relay.adminToken, { region: "eu" }), [
      "p1-a",
      "p2-a",
    ]);
    assert.deepEqual(
      await ids(t.relay.adminToken, { labels: { region: "eu", tier: "gold" } }),
      ["p1-a"],
    );

    const operator = await t.token("operator", { projects: ["p1"] });
    const reply = await t.controller(operator).call(
      "p1-a",
      "echo",
      encode("ok"),
    );
    assert.equal(new TextDecoder().decode(reply), "ok");
  },
);

contractTest(
  "missing, forged and expired controller tokens are refused",
  {},
  async (t) => {
    await t.device("auth-1");
    const refused = (token: string) =>
      assert.rejects(
        t.controller(token).listDevices(),
        (error: RelayError) => error.code === "UNAUTHORIZED",
      );
    await refused("");
    await refused("not-a-jwt");
    const valid = await t.token("admin");
    const [header, payload] = valid.split(".");
    await refused(`${header}.${payload}.${"A".repeat(43)}`); // wrong signature
    const unsigned = btoa(JSON.stringify({ alg: "none", typ: "JWT" })).replace(
      /=+$/,
      "",
    );
    await refused(`${unsigned}.${payload}.`);
    await refused(await t.token("admin", { ttlSeconds: -60 })); // expired

    // A stream with a bad bearer token is closed with UNAUTHORIZED.
    const session = t.controller("garbage").openSession("auth-1");
    await assert.rejects(
      session.call("echo", encode("x")),
      (error: RelayError) => error.code === "UNAUTHORIZED",
    );
  },
);

contractTest(
  "a token in the message body is accepted and checked per message",
  {},
  async (t) => {
    await t.device("body-1");
    const connector = controllerConnector({
      address: t.relay.grpcAddress,
      caPem: t.relay.caPem,
    });
    const stream = connector.openStream(""); // no metadata token
    const inbound = stream.messages[Symbol.asyncIterator]();
    const send = (token: string, sequence: number, controllerId = "") =>
      stream.send({
        controller_id: controllerId,
        token,
        target_device_id: "body-1",
        method_name: "echo",
        sequence_number: sequence,
        encrypted_payload: encode("body"),
      });
    const answer = async () => (await inbound.next()).value!;
    await send(t.relay.adminToken, 1);
    assert.equal((await answer()).error, "OK");
    await send("", 2);
    const missing = await answer();
    assert.equal(missing.error, "UNAUTHORIZED");
    assert.equal(missing.sequence_number, 2);
    await send(t.relay.adminToken, 3, "someone-else");
    assert.equal((await answer()).error, "UNAUTHORIZED");
    await send(t.relay.adminToken, 4, "admin");
    assert.equal((await answer()).error, "OK");
    stream.end();
    assert.equal((await inbound.next()).done, true);
    connector.close();
  },
);

contractTest(
  "a revoked controller token is closed on open streams and refused on new ones",
  {},
  async (t) => {
    await t.device("rev-1");
    const operator = await t.token("operator", { projects: ["default"] });
    const session = t.controller(operator).openSession("rev-1");
    assert.equal(
      new TextDecoder().decode(await session.call("echo", encode("before"))),
      "before",
    );

    await assert.rejects(
      t.controller(operator).revokeToken({ token: operator }),
      (error: RelayError) => error.code === "PERMISSION_DENIED",
    );
    await assert.rejects(
      t.controller().revokeToken({ token: operator.slice(0, 10) }),
      (error: RelayError) => error.code === "INVALID_REQUEST",
    );
    const result = await t.controller().revokeToken({
      token: hashToken(operator),
      reason: "test",
    });
    assert.deepEqual(result, { revoked: true, closedStreams: 1 });
    await assert.rejects(
      session.call("echo", encode("after")),
      (error: RelayError) => error.code === "UNAUTHORIZED",
    );
    await assert.rejects(
      t.controller(operator).listDevices(),
      (error: RelayError) => error.code === "UNAUTHORIZED",
    );
    await assert.rejects(
      t.controller(operator).call("rev-1", "echo", encode("x")),
      (error: RelayError) => error.code === "UNAUTHORIZED",
    );
    // Other controllers are unaffected.
    assert.equal((await t.controller().listDevices()).length, 1);
  },
);

Deno.test("revocation is persisted and survives a relay restart", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "relay-restart-" });
  try {
    const first = await startTestRelay({ stateDir });
    const operator = await first.token("operator", { projects: ["default"] });
    await first.controller().revokeToken({ token: operator });
    await first.close();
    const second = await startTestRelay({ stateDir });
    try {
      await assert.rejects(
        second.controller(operator).listDevices(),
        (error: RelayError) =>
          error.code === "UNAUTHORIZED" && /revoked/.test(error.message),
      );
    } finally {
      await second.close();
    }
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

contractTest(
  "a device with a bad credential gets an explicit UNAUTHORIZED before the close",
  {},
  async (t) => {
    t.registerDevice("dev-auth");
    const wrong = await rawDevice(t, "dev-auth", "rdc_wrong");
    assert.equal(wrong.first.error?.code, "UNAUTHORIZED");
    assert.match(wrong.first.error?.message ?? "", /credential/);
    wrong.drop();
    const impostor = await rawDevice(
      t,
      "someone-else",
      t.registerDevice("dev-other"),
    );
    assert.equal(impostor.first.error?.code, "UNAUTHORIZED");
    impostor.drop();

    const agent = new DeviceAgent({
      connector: deviceConnector(t.clientOptions),
      deviceId: "dev-auth",
      token: "rdc_wrong",
      backoff: { initialMs: 10, maxMs: 50 },
    });
    const refused = agent.waitFor(
      "disconnected",
      (state) => state.error !== undefined,
    );
    agent.start();
    const state = await refused;
    // The relay's reason, distinguishable from a network error.
    assert.equal(state.error?.code, "UNAUTHORIZED");
    await agent.close();
  },
);

contractTest(
  "a device stream that never registers is closed after the handshake timeout",
  {
    config: { "relay.session.handshake_timeout_seconds": 0.1 },
  },
  async (t) => {
    const connector = deviceConnector(t.clientOptions);
    const stream = connector.connect();
    const started = Date.now();
    const first = await stream.messages[Symbol.asyncIterator]().next();
    assert.equal(first.value?.error?.code, "UNAUTHORIZED");
    assert.match(first.value?.error?.message ?? "", /handshake timeout/);
    assert.ok(Date.now() - started < 2000);
    connector.close();
  },
);

contractTest("a stream is closed when its controller token expires", {
  config: { "relay.auth.jwt.clock_skew_seconds": 0 },
}, async (t) => {
  const agent = await t.device("exp-1");
  agent.handle("hang", hangUntilAborted);
  // exp has whole seconds: 2 s leave at least 1 s for the first call (which
  // also looks up the device's E2E key).
  const shortLived = await t.token("admin", { ttlSeconds: 2 });
  const session = t.controller(shortLived).openSession("exp-1");
  assert.equal(
    new TextDecoder().decode(await session.call("echo", encode("ok"))),
    "ok",
  );
  const started = Date.now();
  await assert.rejects(
    session.call("hang", encode("x"), { timeoutMs: 5000 }),
    (error: RelayError) =>
      error.code === "UNAUTHORIZED" && /expired/.test(error.message),
  );
  assert.ok(Date.now() - started < 2500);
});
