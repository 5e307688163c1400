// The devices other relays of a cluster hold, as this relay lists them
// (ListOnlineDevices shows the whole fleet). src/cluster/fleet_directory.ts
// implements it on NATS; a relay alone has none.
import type { DataResponse, DeviceInfo } from "./messages.ts";

export interface FleetView {
  /** Devices held by other live relays (relay_address says which). */
  remoteDevices(): readonly DeviceInfo[];
  /** gRPC address of the other live relay that holds the device, if one does. */
  holderAddressOf(deviceId: string): string | undefined;
  /**
   * Forwards a request to the live relay that holds the device and resolves
   * with the device's answer (rejects with the RelayError that ended it);
   * undefined when no other relay holds the device.
   */
  deliverRemote(
    request: RemoteRequest,
    signal: AbortSignal,
  ): Promise<DataResponse> | undefined;
}

/** A request for a device another relay holds, as the holder delivers it. */
export interface RemoteRequest {
  deviceId: string;
  methodName: string;
  payload: Uint8Array;
  controllerId: string;
  controllerSequenceNumber: number;
  timeoutMs: number;
}
