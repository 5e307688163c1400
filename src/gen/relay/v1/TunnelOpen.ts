// Original file: proto/relay/v1/relay.proto

import type {
  TunnelKind as _relay_v1_TunnelKind,
  TunnelKind__Output as _relay_v1_TunnelKind__Output,
} from "../../relay/v1/TunnelKind.ts";

export interface TunnelOpen {
  "device_id"?: string;
  "token"?: string;
  "kind"?: _relay_v1_TunnelKind;
  "call_id"?: string;
}

export interface TunnelOpen__Output {
  "device_id": string;
  "token": string;
  "kind": _relay_v1_TunnelKind__Output;
  "call_id": string;
}
