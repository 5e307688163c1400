import assert from "node:assert/strict";
import type { PresenceEvent } from "../core/device_registry.ts";
import type { DeviceSession } from "../core/device_session.ts";
import {
  DeviceHistory,
  FORGET_AFTER_MS,
  MAX_ENTRIES_PER_DEVICE,
} from "./device_history.ts";

function session(deviceId: string, transport = "h2"): DeviceSession {
  return { deviceId, project: "p", transport } as DeviceSession;
}

const online = (id: string, at: number, transport = "h2"): PresenceEvent => ({
  type: "online",
  session: session(id, transport),
  resumed: false,
  at,
});

Deno.test("transport history, errors and offline devices forgotten after a while", () => {
  let now = 1000;
  const history = new DeviceHistory({ now: () => now });
  history.onPresence(online("d1", now));
  history.onPresence({
    type: "online",
    session: session("d1", "quic"),
    resumed: true,
    previousTransport: "h2",
    at: now,
  });
  const answer = {
    deviceId: "d1",
    method: "echo",
    controllerId: "c",
    errorMessage: "late",
  };
  history.onAnswer({ ...answer, code: "DEADLINE_EXCEEDED" });
  history.onAnswer({ ...answer, code: "OK" });
  // Ids it never saw connect are not remembered.
  history.onAnswer({ ...answer, deviceId: "nobody", code: "DEVICE_OFFLINE" });
  assert.equal(history.size, 1);
  history.onPresence({
    type: "offline",
    session: session("d1", "quic"),
    reason: "timeout",
    at: now,
  });
  const view = history.get("d1")!;
  assert.deepEqual(view.transports.map((e) => [e.event, e.detail]), [
    ["connected", ""],
    ["resumed", "from h2"],
    ["offline", "timeout"],
  ]);
  assert.deepEqual(view.errors.map((e) => e.code), [
    "DEADLINE_EXCEEDED",
    "DEVICE_OFFLINE",
  ]);
  now += FORGET_AFTER_MS + 1;
  assert.equal(history.get("d1"), undefined);
});

Deno.test("history is bounded per device and in devices", () => {
  const history = new DeviceHistory({ maxDevices: 3 });
  for (let i = 0; i < 50; i++) history.onPresence(online("busy", i));
  assert.equal(history.get("busy")!.transports.length, MAX_ENTRIES_PER_DEVICE);
  for (const id of ["a", "b", "c"]) history.onPresence(online(id, 100));
  assert.equal(history.size, 3);
  assert.equal(history.get("busy"), undefined, "least recently active first");
});
