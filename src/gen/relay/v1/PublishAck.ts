// Original file: proto/relay/v1/relay.proto

import type {
  ErrorCode as _relay_v1_ErrorCode,
  ErrorCode__Output as _relay_v1_ErrorCode__Output,
} from "../../relay/v1/ErrorCode.ts";
import type { Long } from "@grpc/proto-loader";

export interface PublishAck {
  "id"?: number | string | Long;
  "error"?: _relay_v1_ErrorCode;
  "error_message"?: string;
}

export interface PublishAck__Output {
  "id": number;
  "error": _relay_v1_ErrorCode__Output;
  "error_message": string;
}
