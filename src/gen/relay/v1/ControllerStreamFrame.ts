// Original file: proto/relay/v1/relay.proto

import type {
  DeviceResponse as _relay_v1_DeviceResponse,
  DeviceResponse__Output as _relay_v1_DeviceResponse__Output,
} from "../../relay/v1/DeviceResponse.ts";
import type {
  ListOnlineDevicesResponse as _relay_v1_ListOnlineDevicesResponse,
  ListOnlineDevicesResponse__Output
    as _relay_v1_ListOnlineDevicesResponse__Output,
} from "../../relay/v1/ListOnlineDevicesResponse.ts";
import type {
  RevokeTokenResponse as _relay_v1_RevokeTokenResponse,
  RevokeTokenResponse__Output as _relay_v1_RevokeTokenResponse__Output,
} from "../../relay/v1/RevokeTokenResponse.ts";
import type {
  RelayError as _relay_v1_RelayError,
  RelayError__Output as _relay_v1_RelayError__Output,
} from "../../relay/v1/RelayError.ts";

export interface ControllerStreamFrame {
  "response"?: _relay_v1_DeviceResponse | null;
  "devices"?: _relay_v1_ListOnlineDevicesResponse | null;
  "revoked"?: _relay_v1_RevokeTokenResponse | null;
  "error"?: _relay_v1_RelayError | null;
  "frame"?: "response" | "devices" | "revoked" | "error";
}

export interface ControllerStreamFrame__Output {
  "response"?: _relay_v1_DeviceResponse__Output | null;
  "devices"?: _relay_v1_ListOnlineDevicesResponse__Output | null;
  "revoked"?: _relay_v1_RevokeTokenResponse__Output | null;
  "error"?: _relay_v1_RelayError__Output | null;
  "frame"?: "response" | "devices" | "revoked" | "error";
}
