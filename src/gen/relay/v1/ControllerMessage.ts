// Original file: proto/relay/v1/relay.proto

import type { Long } from "@grpc/proto-loader";

export interface ControllerMessage {
  "controller_id"?: string;
  "token"?: string;
  "target_device_id"?: string;
  "method_name"?: string;
  "sequence_number"?: number | string | Long;
  "encrypted_payload"?: Buffer | Uint8Array | string;
  "timeout_ms"?: number | string | Long;
  "traceparent"?: string;
}

export interface ControllerMessage__Output {
  "controller_id": string;
  "token": string;
  "target_device_id": string;
  "method_name": string;
  "sequence_number": number;
  "encrypted_payload": Buffer;
  "timeout_ms": number;
  "traceparent": string;
}
