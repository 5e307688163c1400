// Original file: proto/relay/v1/relay.proto

import type { Long } from "@grpc/proto-loader";

export interface DataRequest {
  "connection_id"?: string;
  "sequence_number"?: number | string | Long;
  "encrypted_payload"?: Buffer | Uint8Array | string;
  "method_name"?: string;
  "controller_id"?: string;
  "timeout_ms"?: number | string | Long;
  "controller_sequence_number"?: number | string | Long;
  "traceparent"?: string;
}

export interface DataRequest__Output {
  "connection_id": string;
  "sequence_number": number;
  "encrypted_payload": Buffer;
  "method_name": string;
  "controller_id": string;
  "timeout_ms": number;
  "controller_sequence_number": number;
  "traceparent": string;
}
