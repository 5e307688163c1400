import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { buildConfig } from "../config/load_config.ts";
// The MQTT topic ACL is the topic policy the relay runs with.
import { TopicAcl } from "../mqtt/topic_acl.ts";
import type { AuditLogger, AuditRecord } from "../observability/audit_log.ts";
import { Logger } from "../observability/logger.ts";
import { RelayMetrics } from "../observability/relay_metrics.ts";
import { DevicePublications } from "./device_publish.ts";
import { Gatekeeper } from "./gatekeeper.ts";
import type { Publisher, PublishOptions } from "./publisher.ts";

interface Published {
  topic: string;
  payload: Uint8Array | string;
  options: PublishOptions;
}

const peer = { remoteAddress: "127.0.0.1:4000", transport: "h2" };

function setup(
  config: Record<string, unknown> = {},
  publisher: "recording" | "absent" = "recording",
) {
  const relayConfig = buildConfig({}, {}, config);
  const records: AuditRecord[] = [];
  const audit: AuditLogger = {
    dropped: 0,
    log: (record) => records.push(record),
    flush: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  const logLines: string[] = [];
  const logger = new Logger({
    level: "debug",
    write: (line) => logLines.push(line),
  });
  const metrics = new RelayMetrics();
  const published: Published[] = [];
  const recording: Publisher = {
    publish: (topic, payload, options) =>
      published.push({ topic, payload, options }),
  };
  const publications = new DevicePublications({
    topicPolicy: new TopicAcl(relayConfig.relay.mqtt.acl),
    ...(publisher === "recording" ? { publisher: recording } : {}),
    gate: new Gatekeeper({ config: relayConfig, audit, metrics, logger }),
    logger,
    maxPayloadBytes: relayConfig.relay.limits.max_publish_payload_bytes,
    registry: metrics.registry,
  });
  return { publications, published, records, logLines, metrics };
}

const publish = (
  fields: { id?: number; topic: string; payload?: string; qos?: number },
) => ({
  id: fields.id ?? 1,
  topic: fields.topic,
  payload: Buffer.from(fields.payload ?? "secret-payload-canary"),
  qos: fields.qos ?? 1,
  retain: true,
});

Deno.test("an allowed publication goes to the publisher as sent", () => {
  const { publications, published } = setup();
  const ack = publications.handle(
    peer,
    "d1",
    publish({ id: 7, topic: "device/d1/status", payload: "{}" }),
  );
  assert.deepEqual(ack, { id: 7, error: "OK", error_message: "" });
  assert.equal(published.length, 1);
  assert.equal(published[0]!.topic, "device/d1/status");
  assert.deepEqual(published[0]!.options, { qos: 1, retain: true });
  assert.equal(
    new TextDecoder().decode(published[0]!.payload as Uint8Array),
    "{}",
  );
});

Deno.test("another device's topic is refused, audited, never published or logged with its payload", () => {
  const { publications, published, records, logLines } = setup();
  const ack = publications.handle(
    peer,
    "d1",
    publish({ topic: "device/d2/status" }),
  );
  assert.equal(ack?.error, "PERMISSION_DENIED");
  assert.match(ack?.error_message ?? "", /"device\/d2\/status"/);
  assert.equal(published.length, 0);
  const denied = records.find((r) => r.event === "access_denied");
  assert.equal(denied?.principal, "device:d1");
  assert.equal(denied?.device_id, "d1");
  assert.equal(denied?.code, "PERMISSION_DENIED");
  assert.match(denied?.reason ?? "", /device\/d2\/status/);
  for (const line of [...logLines, ...records.map((r) => JSON.stringify(r))]) {
    assert.ok(!line.includes("secret-payload-canary"), line);
  }
});

Deno.test("id 0 asks for no ack, also on refusal", () => {
  const { publications, published } = setup();
  assert.equal(
    publications.handle(peer, "d1", publish({ id: 0, topic: "telemetry/d1" })),
    undefined,
  );
  assert.equal(
    publications.handle(peer, "d1", publish({ id: 0, topic: "telemetry/d2" })),
    undefined,
  );
  assert.equal(published.length, 1);
});

Deno.test("bad qos, wildcard topics and oversized payloads are INVALID_REQUEST", () => {
  const { publications, published } = setup({
    "relay.limits.max_publish_payload_bytes": 8,
  });
  const codes = [
    publish({ topic: "telemetry/d1", qos: 3 }),
    publish({ topic: "telemetry/d1", qos: -1 }),
    publish({ topic: "device/d1/+" }),
    publish({ topic: "" }),
    publish({ topic: "telemetry/d1", payload: "123456789" }),
  ].map((message) => publications.handle(peer, "d1", message)?.error);
  assert.deepEqual(codes, Array(5).fill("INVALID_REQUEST"));
  assert.equal(
    publications.handle(
      peer,
      "d1",
      publish({ topic: "telemetry/d1", payload: "12345678" }),
    )?.error,
    "OK",
  );
  assert.equal(published.length, 1);
});

Deno.test("publications are rate limited per device", () => {
  const { publications, published, records } = setup({
    "relay.rate_limits.requests.device": { per_second: 1, burst: 2 },
  });
  const send = (device: string) =>
    publications.handle(peer, device, publish({ topic: `telemetry/${device}` }))
      ?.error;
  assert.deepEqual([send("d1"), send("d1"), send("d1")], [
    "OK",
    "OK",
    "RATE_LIMITED",
  ]);
  assert.equal(send("d2"), "OK", "another device has its own bucket");
  assert.equal(published.length, 3);
  assert.ok(
    records.some((r) =>
      r.event === "rate_limited" && r.principal === "device:d1"
    ),
  );
});

Deno.test("without a publisher (MQTT off) an allowed publication is UNAVAILABLE", async () => {
  const { publications, metrics } = setup({}, "absent");
  const ack = publications.handle(
    peer,
    "d1",
    publish({ topic: "device/d1/status" }),
  );
  assert.equal(ack?.error, "UNAVAILABLE");
  assert.match(ack?.error_message ?? "", /MQTT is off/);
  assert.equal(
    publications.handle(peer, "d1", publish({ topic: "device/d2/status" }))
      ?.error,
    "PERMISSION_DENIED",
    "the ACL still applies",
  );
  const text = await metrics.registry.metrics();
  assert.match(text, /relay_device_publishes_total\{result="unavailable"\} 1/);
  assert.match(text, /relay_device_publishes_total\{result="denied"\} 1/);
});
