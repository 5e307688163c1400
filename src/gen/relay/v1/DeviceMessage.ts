// Original file: proto/relay/v1/relay.proto

import type {
  RegisterRequest as _relay_v1_RegisterRequest,
  RegisterRequest__Output as _relay_v1_RegisterRequest__Output,
} from "../../relay/v1/RegisterRequest.ts";
import type {
  HeartbeatRequest as _relay_v1_HeartbeatRequest,
  HeartbeatRequest__Output as _relay_v1_HeartbeatRequest__Output,
} from "../../relay/v1/HeartbeatRequest.ts";
import type {
  DataResponse as _relay_v1_DataResponse,
  DataResponse__Output as _relay_v1_DataResponse__Output,
} from "../../relay/v1/DataResponse.ts";
import type {
  DevicePublish as _relay_v1_DevicePublish,
  DevicePublish__Output as _relay_v1_DevicePublish__Output,
} from "../../relay/v1/DevicePublish.ts";

export interface DeviceMessage {
  "device_id"?: string;
  "token"?: string;
  "register"?: _relay_v1_RegisterRequest | null;
  "heartbeat"?: _relay_v1_HeartbeatRequest | null;
  "data"?: _relay_v1_DataResponse | null;
  "publish"?: _relay_v1_DevicePublish | null;
  "payload"?: "register" | "heartbeat" | "data" | "publish";
}

export interface DeviceMessage__Output {
  "device_id": string;
  "token": string;
  "register"?: _relay_v1_RegisterRequest__Output | null;
  "heartbeat"?: _relay_v1_HeartbeatRequest__Output | null;
  "data"?: _relay_v1_DataResponse__Output | null;
  "publish"?: _relay_v1_DevicePublish__Output | null;
  "payload"?: "register" | "heartbeat" | "data" | "publish";
}
