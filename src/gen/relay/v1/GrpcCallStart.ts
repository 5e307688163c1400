// Original file: proto/relay/v1/relay.proto

import type {
  MetadataEntry as _relay_v1_MetadataEntry,
  MetadataEntry__Output as _relay_v1_MetadataEntry__Output,
} from "../../relay/v1/MetadataEntry.ts";
import type { Long } from "@grpc/proto-loader";

export interface GrpcCallStart {
  "call_id"?: string;
  "method"?: string;
  "metadata"?: (_relay_v1_MetadataEntry)[];
  "timeout_ms"?: number | string | Long;
  "controller_id"?: string;
}

export interface GrpcCallStart__Output {
  "call_id": string;
  "method": string;
  "metadata": (_relay_v1_MetadataEntry__Output)[];
  "timeout_ms": number;
  "controller_id": string;
}
