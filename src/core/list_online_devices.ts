// ListOnlineDevices, answered: the device sessions a controller may see (its
// projects; admins see all), narrowed by region and labels, as DeviceInfo.
// Sessions waiting for a resume are listed as DISCONNECTED.
import { canSee } from "../auth/access_policy.ts";
import type { ControllerPrincipal } from "../auth/controller_auth.ts";
import type { DeviceSession } from "./device_session.ts";
import type { DeviceInfo, ListOnlineDevicesRequest } from "./messages.ts";

export interface DeviceListing {
  principal: ControllerPrincipal;
  /** DeviceInfo.relay_address: this relay's advertised address. */
  relayAddress: string;
}

export function listOnlineDevices(
  sessions: readonly DeviceSession[],
  request: ListOnlineDevicesRequest,
  { principal, relayAddress }: DeviceListing,
): DeviceInfo[] {
  const labels = Object.entries(request.label_filter);
  return sessions
    .filter((session) => canSee(principal, session.project))
    .filter((session) =>
      request.region_filter === "" ||
      session.metadata.region === request.region_filter
    )
    .filter((session) =>
      labels.every(([key, value]) => session.metadata[key] === value)
    )
    .map((session) => deviceInfo(session, relayAddress));
}

function deviceInfo(session: DeviceSession, relayAddress: string): DeviceInfo {
  return {
    device_id: session.deviceId,
    connection_id: session.connectionId,
    relay_address: relayAddress,
    connected_at: session.connectedAt,
    metadata: session.metadata,
    last_seen: session.lastSeen,
    state: session.state === "online"
      ? "ONLINE"
      : session.state === "suspect"
      ? "SUSPECT"
      : "DISCONNECTED",
    transport: session.transport,
    project: session.project,
    grpc_target: session.grpcTarget,
  };
}
