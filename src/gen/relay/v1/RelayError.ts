// Original file: proto/relay/v1/relay.proto

import type {
  ErrorCode as _relay_v1_ErrorCode,
  ErrorCode__Output as _relay_v1_ErrorCode__Output,
} from "../../relay/v1/ErrorCode.ts";

export interface RelayError {
  "code"?: _relay_v1_ErrorCode;
  "message"?: string;
}

export interface RelayError__Output {
  "code": _relay_v1_ErrorCode__Output;
  "message": string;
}
