// relay.v1 message shapes used by the core, re-exported from the generated
// types (src/gen, made by `deno task gen:proto`). The core speaks the wire
// contract's shapes so every transport carries the same messages.
export type { DeviceMessage__Output as DeviceMessage } from "../gen/relay/v1/DeviceMessage.ts";
export type { RelayMessage } from "../gen/relay/v1/RelayMessage.ts";
export type { ControllerMessage__Output as ControllerMessage } from "../gen/relay/v1/ControllerMessage.ts";
export type { DataResponse__Output as DataResponse } from "../gen/relay/v1/DataResponse.ts";
export type { DataRequest } from "../gen/relay/v1/DataRequest.ts";
export type { DeviceInfo } from "../gen/relay/v1/DeviceInfo.ts";
export type { ListOnlineDevicesRequest__Output as ListOnlineDevicesRequest } from "../gen/relay/v1/ListOnlineDevicesRequest.ts";
export type { RevokeTokenRequest__Output as RevokeTokenRequest } from "../gen/relay/v1/RevokeTokenRequest.ts";
export type { RevokeTokenResponse } from "../gen/relay/v1/RevokeTokenResponse.ts";
export type {
  TunnelFrame,
  TunnelFrame__Output,
} from "../gen/relay/v1/TunnelFrame.ts";
export type { TunnelKind__Output as TunnelKind } from "../gen/relay/v1/TunnelKind.ts";

import type { ErrorCode } from "../errors/relay_error.ts";

/** Answer to one controller request, as sent on the wire (DeviceResponse). */
export interface DeviceResponse {
  device_id: string;
  sequence_number: number;
  encrypted_payload: Uint8Array;
  error: ErrorCode;
  error_message: string;
}
export type { DrainRequest__Output as DrainRequest } from "../gen/relay/v1/DrainRequest.ts";
export type { DrainResponse } from "../gen/relay/v1/DrainResponse.ts";
