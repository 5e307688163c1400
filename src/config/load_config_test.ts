import assert from "node:assert/strict";
import { buildConfig, loadConfig } from "./load_config.ts";
import { RelayError } from "../errors/relay_error.ts";

Deno.test("defaults match the original gRPC-Relay config", () => {
  const config = buildConfig({});
  assert.equal(config.relay.address, "0.0.0.0:50051");
  assert.equal(config.relay.heartbeat_interval_seconds, 30);
  assert.equal(config.relay.presence.suspect_after_seconds, 120);
  assert.equal(config.relay.presence.offline_after_seconds, 300);
  assert.equal(config.relay.tls.enabled, true);
  assert.equal(config.observability.health.address, "0.0.0.0:8080");
  assert.ok(Object.isFrozen(config.relay.presence));
});

Deno.test("environment variables override keys by path", () => {
  const config = buildConfig({ relay: { address: "127.0.0.1:1" } }, {
    RELAY__ADDRESS: "127.0.0.1:2",
    RELAY__PRESENCE__SUSPECT_AFTER_SECONDS: "0.05",
    RELAY__PRESENCE__OFFLINE_AFTER_SECONDS: "0.1",
    RELAY__TLS__ENABLED: "false",
    OBSERVABILITY__HEALTH__ADDRESS: "127.0.0.1:9000",
    RELAY_STATE_DIR: "/tmp/state",
  });
  assert.equal(config.relay.address, "127.0.0.1:2");
  assert.equal(config.relay.presence.suspect_after_seconds, 0.05);
  assert.equal(config.relay.tls.enabled, false);
  assert.equal(config.observability.health.address, "127.0.0.1:9000");
  assert.equal(config.relay.state_dir, "/tmp/state");
});

Deno.test("a bad config fails naming the key", () => {
  const fails = (
    tree: Record<string, unknown>,
    env: Record<string, string>,
    key: RegExp,
  ) =>
    assert.throws(
      () => buildConfig(tree, env),
      (error: RelayError) => key.test(error.message),
    );
  fails(
    { relay: { heartbeat_interval_seconds: "often" } },
    {},
    /relay\.heartbeat_interval_seconds/,
  );
  fails({ relay: { adress: "x" } }, {}, /unknown key\(s\) relay\.adress/);
  fails(
    {},
    { OBSERVABILITY__HEALTH__ADDRESS: "nowhere" },
    /observability\.health\.address: expected host:port/,
  );
  fails(
    {
      relay: {
        presence: { suspect_after_seconds: 10, offline_after_seconds: 5 },
      },
    },
    {},
    /relay\.presence\.offline_after_seconds/,
  );
  fails(
    { relay: { tls: { cert_path: "/x.pem" } } },
    {},
    /relay\.tls\.key_path/,
  );
});

Deno.test("loadConfig reads YAML files and reports unreadable or invalid ones", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/relay.yaml`;
    await Deno.writeTextFile(
      path,
      "relay:\n  id: relay-yaml\n  max_device_connections: 5\n",
    );
    const config = await loadConfig({ path, env: {} });
    assert.equal(config.relay.id, "relay-yaml");
    assert.equal(config.relay.max_device_connections, 5);
    await Deno.writeTextFile(path, "relay: [unclosed\n");
    await assert.rejects(loadConfig({ path, env: {} }), /not valid YAML/);
    await assert.rejects(
      loadConfig({ path: `${dir}/missing.yaml`, env: {} }),
      /cannot read config file/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("text keys take env values verbatim; unknown env keys are refused", () => {
  const config = buildConfig({}, {
    RELAY__ID: "123",
    RELAY__AUTH__JWT__HS256_SECRET: "abc #not-a-comment !tag",
  });
  assert.equal(config.relay.id, "123");
  assert.equal(config.relay.auth.jwt.hs256_secret, "abc #not-a-comment !tag");
  assert.throws(
    () => buildConfig({}, { RELAY__ADRESS: "127.0.0.1:1" }),
    /unknown config environment variable\(s\) RELAY__ADRESS/,
  );
  assert.throws(
    () => buildConfig({}, { RELAY__ADDRESS: ":50051" }),
    /relay\.address: expected host:port/,
  );
});
