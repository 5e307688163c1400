// Original file: proto/relay/v1/relay.proto

import type { Long } from "@grpc/proto-loader";

export interface RegisterResponse {
  "connection_id"?: string;
  "session_resumed"?: boolean;
  "timestamp"?: number | string | Long;
  "generation"?: number | string | Long;
  "heartbeat_interval_ms"?: number | string | Long;
}

export interface RegisterResponse__Output {
  "connection_id": string;
  "session_resumed": boolean;
  "timestamp": number;
  "generation": number;
  "heartbeat_interval_ms": number;
}
