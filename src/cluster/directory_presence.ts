// This relay's presence changes into the fleet directory (issue 17). A session
// that moved away is the new holder's entry, so its end writes nothing; a
// session that moved here is announced to the old holder once the directory
// names this relay, and written again after the old holder's last write (its
// link dropping as the device left could land after ours).
import type { PresenceEvent } from "../core/device_registry.ts";
import type { DeviceInfo } from "../core/messages.ts";
import type { ClusterRequests } from "./cluster_requests.ts";
import type { FleetDirectory } from "./fleet_directory.ts";

export interface LocalSessions {
  /** The device's session here as DeviceInfo; undefined when none. */
  deviceInfo(deviceId: string): DeviceInfo | undefined;
  /** Its registration generation (for the MQTT presence of other relays). */
  generation(deviceId: string): number | undefined;
}

export function directoryPresence(
  directory: FleetDirectory,
  requests: ClusterRequests,
  sessions: LocalSessions,
): (event: PresenceEvent) => void {
  return (event) => {
    if (event.type === "offline" && event.reason === "moved") return;
    const { deviceId, connectionId } = event.session;
    const write = () =>
      directory.deviceChanged(
        deviceId,
        () => sessions.deviceInfo(deviceId),
        () => sessions.generation(deviceId),
      );
    const written = write();
    if (event.type === "online" && event.movedFrom !== undefined) {
      const from = event.movedFrom;
      written
        .then(() => requests.sessionMovedHere(deviceId, connectionId, from))
        .then(write);
    }
  };
}
