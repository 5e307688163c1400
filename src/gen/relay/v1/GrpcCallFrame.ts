// Original file: proto/relay/v1/relay.proto

import type {
  HalfClose as _relay_v1_HalfClose,
  HalfClose__Output as _relay_v1_HalfClose__Output,
} from "../../relay/v1/HalfClose.ts";
import type {
  GrpcMetadata as _relay_v1_GrpcMetadata,
  GrpcMetadata__Output as _relay_v1_GrpcMetadata__Output,
} from "../../relay/v1/GrpcMetadata.ts";
import type {
  GrpcStatus as _relay_v1_GrpcStatus,
  GrpcStatus__Output as _relay_v1_GrpcStatus__Output,
} from "../../relay/v1/GrpcStatus.ts";
import type {
  GrpcCallStart as _relay_v1_GrpcCallStart,
  GrpcCallStart__Output as _relay_v1_GrpcCallStart__Output,
} from "../../relay/v1/GrpcCallStart.ts";

export interface GrpcCallFrame {
  "message"?: Buffer | Uint8Array | string;
  "half_close"?: _relay_v1_HalfClose | null;
  "headers"?: _relay_v1_GrpcMetadata | null;
  "status"?: _relay_v1_GrpcStatus | null;
  "start"?: _relay_v1_GrpcCallStart | null;
  "frame"?: "message" | "half_close" | "headers" | "status" | "start";
}

export interface GrpcCallFrame__Output {
  "message"?: Buffer;
  "half_close"?: _relay_v1_HalfClose__Output | null;
  "headers"?: _relay_v1_GrpcMetadata__Output | null;
  "status"?: _relay_v1_GrpcStatus__Output | null;
  "start"?: _relay_v1_GrpcCallStart__Output | null;
  "frame"?: "message" | "half_close" | "headers" | "status" | "start";
}
