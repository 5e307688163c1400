// Original file: proto/relay/v1/relay.proto

import type {
  TunnelOpen as _relay_v1_TunnelOpen,
  TunnelOpen__Output as _relay_v1_TunnelOpen__Output,
} from "../../relay/v1/TunnelOpen.ts";
import type {
  RelayError as _relay_v1_RelayError,
  RelayError__Output as _relay_v1_RelayError__Output,
} from "../../relay/v1/RelayError.ts";
import type {
  GrpcCallFrame as _relay_v1_GrpcCallFrame,
  GrpcCallFrame__Output as _relay_v1_GrpcCallFrame__Output,
} from "../../relay/v1/GrpcCallFrame.ts";

export interface TunnelFrame {
  "open"?: _relay_v1_TunnelOpen | null;
  "data"?: Buffer | Uint8Array | string;
  "error"?: _relay_v1_RelayError | null;
  "grpc"?: _relay_v1_GrpcCallFrame | null;
  "frame"?: "open" | "data" | "error" | "grpc";
}

export interface TunnelFrame__Output {
  "open"?: _relay_v1_TunnelOpen__Output | null;
  "data"?: Buffer;
  "error"?: _relay_v1_RelayError__Output | null;
  "grpc"?: _relay_v1_GrpcCallFrame__Output | null;
  "frame"?: "open" | "data" | "error" | "grpc";
}
