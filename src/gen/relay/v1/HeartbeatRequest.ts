// Original file: proto/relay/v1/relay.proto

import type { Long } from "@grpc/proto-loader";

export interface HeartbeatRequest {
  "connection_id"?: string;
  "timestamp"?: number | string | Long;
}

export interface HeartbeatRequest__Output {
  "connection_id": string;
  "timestamp": number;
}
