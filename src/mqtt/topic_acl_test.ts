import assert from "node:assert/strict";
import { TopicAcl } from "./topic_acl.ts";

const acl = new TopicAcl({
  publish: ["device/{device_id}/#", "telemetry/{device_id}"],
  subscribe: ["cmd/{device_id}/#", "fleet/+/announce"],
});

Deno.test("a device publishes only to its own topics", () => {
  assert.ok(acl.canPublish("d1", "device/d1/status"));
  assert.ok(acl.canPublish("d1", "device/d1"));
  assert.ok(acl.canPublish("d1", "telemetry/d1"));
  assert.ok(!acl.canPublish("d1", "telemetry/d1/x"));
  assert.ok(!acl.canPublish("d1", "device/d2/status"));
  assert.ok(!acl.canPublish("d1", "device/d10/status"));
  assert.ok(!acl.canPublish("d1", "device/d1/+"), "wildcards are not topics");
  assert.ok(!acl.canPublish("d1", ""));
});

Deno.test("a subscription must lie inside an allowed pattern", () => {
  assert.ok(acl.canSubscribe("d1", "cmd/d1/#"));
  assert.ok(acl.canSubscribe("d1", "cmd/d1"));
  assert.ok(acl.canSubscribe("d1", "cmd/d1/+/reboot"));
  assert.ok(acl.canSubscribe("d1", "fleet/eu/announce"));
  assert.ok(acl.canSubscribe("d1", "fleet/+/announce"));
  assert.ok(!acl.canSubscribe("d1", "fleet/#"));
  assert.ok(!acl.canSubscribe("d1", "cmd/#"));
  assert.ok(!acl.canSubscribe("d1", "cmd/+/reboot"));
  assert.ok(!acl.canSubscribe("d1", "#"));
  assert.ok(!acl.canSubscribe("d1", "cmd/d2/#"));
  assert.ok(!acl.canSubscribe("d1", "cmd/d1/#/x"), "malformed filter");
  assert.ok(!acl.canSubscribe("d1", "cmd/d1/a+"), "malformed filter");
});

Deno.test("no device publishes to the relay's own topics, whatever its id", () => {
  const open = new TopicAcl({
    publish: ["telemetry/{device_id}/#", "{device_id}/#"],
    subscribe: [],
  });
  assert.ok(open.canPublish("relay", "telemetry/relay"));
  assert.ok(!open.canPublish("relay", "telemetry/relay/relay-001"));
  assert.ok(!open.canPublish("relay", "relay/device/online"));
  assert.ok(!open.canPublish("relay", "relay/relay/relay-001/status"));
  assert.ok(open.canPublish("d1", "d1/anything"));
});
