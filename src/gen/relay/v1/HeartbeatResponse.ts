// Original file: proto/relay/v1/relay.proto

import type { Long } from "@grpc/proto-loader";

export interface HeartbeatResponse {
  "timestamp"?: number | string | Long;
}

export interface HeartbeatResponse__Output {
  "timestamp": number;
}
