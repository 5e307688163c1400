// Original file: proto/relay/v1/relay.proto

import type {
  DeviceInfo as _relay_v1_DeviceInfo,
  DeviceInfo__Output as _relay_v1_DeviceInfo__Output,
} from "../../relay/v1/DeviceInfo.ts";

export interface ListOnlineDevicesResponse {
  "devices"?: (_relay_v1_DeviceInfo)[];
}

export interface ListOnlineDevicesResponse__Output {
  "devices": (_relay_v1_DeviceInfo__Output)[];
}
