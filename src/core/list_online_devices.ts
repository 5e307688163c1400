// ListOnlineDevices, answered: the device sessions a controller may see (its
// projects; admins see all), narrowed by region and labels, as DeviceInfo.
// Sessions waiting for a resume are listed as DISCONNECTED. In a cluster the
// devices other relays hold are listed too (this relay's session of a device
// wins over another relay's entry).
import { canSee } from "../auth/access_policy.ts";
import type { ControllerPrincipal } from "../auth/controller_auth.ts";
import type { DeviceSession } from "./device_session.ts";
import type { DeviceInfo, ListOnlineDevicesRequest } from "./messages.ts";

export interface DeviceListing {
  principal: ControllerPrincipal;
  /** DeviceInfo.relay_address: this relay's advertised address. */
  relayAddress: string;
  /** Devices other relays of the cluster hold. */
  remote?: readonly DeviceInfo[];
}

export function listOnlineDevices(
  sessions: readonly DeviceSession[],
  request: ListOnlineDevicesRequest,
  { principal, relayAddress, remote = [] }: DeviceListing,
): DeviceInfo[] {
  return visibleDevices(
    sessions.map((session) => deviceInfo(session, relayAddress)),
    request,
    { principal, remote },
  );
}

/**
 * The same listing from this relay's devices already as DeviceInfo (what
 * RelayCore.localDevices() returns), for the operator console.
 */
export function visibleDevices(
  local: readonly DeviceInfo[],
  request: Pick<ListOnlineDevicesRequest, "region_filter" | "label_filter">,
  { principal, remote = [] }: Omit<DeviceListing, "relayAddress">,
): DeviceInfo[] {
  const labels = Object.entries(request.label_filter);
  const localIds = new Set(local.map((info) => info.device_id ?? ""));
  return [
    ...local,
    ...remote.filter((info) => !localIds.has(info.device_id ?? "")),
  ]
    .filter((info) => canSee(principal, info.project ?? ""))
    .filter((info) =>
      request.region_filter === "" ||
      info.metadata?.region === request.region_filter
    )
    .filter((info) =>
      labels.every(([key, value]) => info.metadata?.[key] === value)
    );
}

/** One session as DeviceInfo, with this relay's address. */
export function deviceInfo(
  session: DeviceSession,
  relayAddress: string,
): DeviceInfo {
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
