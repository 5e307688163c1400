// Original file: proto/relay/v1/relay.proto

import type {
  DeviceState as _relay_v1_DeviceState,
  DeviceState__Output as _relay_v1_DeviceState__Output,
} from "../../relay/v1/DeviceState.ts";
import type { Long } from "@grpc/proto-loader";

export interface DeviceInfo {
  "device_id"?: string;
  "connection_id"?: string;
  "relay_address"?: string;
  "connected_at"?: number | string | Long;
  "metadata"?: { [key: string]: string };
  "last_seen"?: number | string | Long;
  "state"?: _relay_v1_DeviceState;
  "transport"?: string;
  "project"?: string;
  "grpc_target"?: boolean;
}

export interface DeviceInfo__Output {
  "device_id": string;
  "connection_id": string;
  "relay_address": string;
  "connected_at": number;
  "metadata": { [key: string]: string };
  "last_seen": number;
  "state": _relay_v1_DeviceState__Output;
  "transport": string;
  "project": string;
  "grpc_target": boolean;
}
