// Original file: proto/relay/v1/relay.proto

import type {
  TokenTargetType as _relay_v1_TokenTargetType,
  TokenTargetType__Output as _relay_v1_TokenTargetType__Output,
} from "../../relay/v1/TokenTargetType.ts";

export interface RevokeTokenRequest {
  "controller_id"?: string;
  "admin_token"?: string;
  "target_type"?: _relay_v1_TokenTargetType;
  "target_token_hash_or_prefix"?: string;
  "reason"?: string;
}

export interface RevokeTokenRequest__Output {
  "controller_id": string;
  "admin_token": string;
  "target_type": _relay_v1_TokenTargetType__Output;
  "target_token_hash_or_prefix": string;
  "reason": string;
}
