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
  /** Forwards a request to the session `relayId` holds (a handed-over request). */
  deliverVia(
    relayId: string,
    request: RemoteRequest,
    signal: AbortSignal,
  ): Promise<DataResponse>;
  /** The other relay whose session of the device has this connection id. */
  sessionElsewhere(deviceId: string, connectionId: string): string | undefined;
  /** Tells `relayId` that its session of the device resumed here. */
  sessionMovedHere(
    deviceId: string,
    connectionId: string,
    relayId: string,
  ): Promise<void>;
  /** This relay drains: no devices should be sent here. */
  announceDraining(): Promise<void>;
  /** The other live relays a draining relay's devices may move to, least loaded first. */
  moveTargets(): RelayMoveHint[];
}

export interface RelayMoveHint {
  relayAddress: string;
  quicAddress: string;
}

/** A request for a device another relay holds, as the holder delivers it. */
export interface RemoteRequest {
  deviceId: string;
  methodName: string;
  payload: Uint8Array;
  controllerId: string;
  controllerSequenceNumber: number;
  /** W3C traceparent of the asking relay's span ("" = none). */
  traceparent: string;
  timeoutMs: number;
}
