// Original file: proto/relay/v1/relay.proto

import type { Long } from "@grpc/proto-loader";

export interface CallManyResult {
  "device_id"?: string;
  "status_code"?: number;
  "status_message"?: string;
  "response"?: Buffer | Uint8Array | string;
  "duration_ms"?: number | string | Long;
}

export interface CallManyResult__Output {
  "device_id": string;
  "status_code": number;
  "status_message": string;
  "response": Buffer;
  "duration_ms": number;
}
