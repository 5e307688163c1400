import assert from "node:assert/strict";
import type { ControllerPrincipal } from "../auth/controller_auth.ts";
import { DeviceSession, type PresenceState } from "./device_session.ts";
import { listOnlineDevices } from "./list_online_devices.ts";
import type { ListOnlineDevicesRequest } from "./messages.ts";

function session(
  deviceId: string,
  fields: {
    project?: string;
    metadata?: Record<string, string>;
    state?: PresenceState;
  } = {},
): DeviceSession {
  const created = new DeviceSession({
    deviceId,
    project: fields.project ?? "default",
    connectionId: `conn_${deviceId}`,
    metadata: fields.metadata ?? {},
    grpcTarget: false,
    maxPending: 1,
    now: 1_000,
  });
  created.state = fields.state ?? "online";
  created.transport = "quic";
  return created;
}

function principal(
  role: ControllerPrincipal["role"],
  projects: string[] = [],
): ControllerPrincipal {
  return {
    controllerId: `c-${role}`,
    role,
    projects,
    tokenHash: "0".repeat(64),
    jti: "",
    expiresAt: Number.MAX_SAFE_INTEGER,
  };
}

function request(
  filters: Partial<ListOnlineDevicesRequest> = {},
): ListOnlineDevicesRequest {
  return {
    controller_id: "",
    token: "",
    region_filter: "",
    label_filter: {},
    ...filters,
  };
}

const fleet = [
  session("a", { metadata: { region: "eu", rack: "1" } }),
  session("b", { metadata: { region: "us", rack: "1" }, state: "suspect" }),
  session("c", {
    project: "lab",
    metadata: { region: "eu", rack: "2" },
    state: "disconnected",
  }),
];

const ids = (infos: { device_id?: string }[]) =>
  infos.map((info) => info.device_id);

Deno.test("a controller sees its projects' devices; an admin sees all", () => {
  const listing = (who: ControllerPrincipal) =>
    ids(
      listOnlineDevices(fleet, request(), { principal: who, relayAddress: "" }),
    );
  assert.deepEqual(listing(principal("operator", ["default"])), ["a", "b"]);
  assert.deepEqual(listing(principal("viewer", ["lab"])), ["c"]);
  assert.deepEqual(listing(principal("operator", [])), []);
  assert.deepEqual(listing(principal("admin")), ["a", "b", "c"]);
});

Deno.test("region and labels narrow the list; every label must match", () => {
  const listing = (filters: Partial<ListOnlineDevicesRequest>) =>
    ids(listOnlineDevices(fleet, request(filters), {
      principal: principal("admin"),
      relayAddress: "",
    }));
  assert.deepEqual(listing({ region_filter: "eu" }), ["a", "c"]);
  assert.deepEqual(listing({ label_filter: { rack: "1" } }), ["a", "b"]);
  assert.deepEqual(
    listing({ region_filter: "eu", label_filter: { rack: "1" } }),
    ["a"],
  );
  assert.deepEqual(listing({ label_filter: { rack: "1", region: "us" } }), [
    "b",
  ]);
  assert.deepEqual(listing({ label_filter: { missing: "" } }), []);
  assert.deepEqual(listing({ region_filter: "ap" }), []);
});

Deno.test("DeviceInfo carries the session, its state and this relay's address", () => {
  const infos = listOnlineDevices(fleet, request(), {
    principal: principal("admin"),
    relayAddress: "relay-1.example:50051",
  });
  assert.deepEqual(infos[0], {
    device_id: "a",
    connection_id: "conn_a",
    relay_address: "relay-1.example:50051",
    connected_at: 1_000,
    metadata: { region: "eu", rack: "1" },
    last_seen: 1_000,
    state: "ONLINE",
    transport: "quic",
    project: "default",
    grpc_target: false,
  });
  assert.deepEqual(infos.map((info) => info.state), [
    "ONLINE",
    "SUSPECT",
    "DISCONNECTED",
  ]);
});
