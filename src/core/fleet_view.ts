// The devices other relays of a cluster hold, as this relay lists them
// (ListOnlineDevices shows the whole fleet). src/cluster/fleet_directory.ts
// implements it on NATS; a relay alone has none.
import type { DeviceInfo } from "./messages.ts";

export interface FleetView {
  /** Devices held by other live relays (relay_address says which). */
  remoteDevices(): readonly DeviceInfo[];
}
