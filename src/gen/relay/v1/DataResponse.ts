// Original file: proto/relay/v1/relay.proto

import type {
  ErrorCode as _relay_v1_ErrorCode,
  ErrorCode__Output as _relay_v1_ErrorCode__Output,
} from "../../relay/v1/ErrorCode.ts";
import type { Long } from "@grpc/proto-loader";

export interface DataResponse {
  "connection_id"?: string;
  "sequence_number"?: number | string | Long;
  "encrypted_payload"?: Buffer | Uint8Array | string;
  "error"?: _relay_v1_ErrorCode;
  "error_message"?: string;
}

export interface DataResponse__Output {
  "connection_id": string;
  "sequence_number": number;
  "encrypted_payload": Buffer;
  "error": _relay_v1_ErrorCode__Output;
  "error_message": string;
}
