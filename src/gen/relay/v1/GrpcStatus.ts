// Original file: proto/relay/v1/relay.proto

import type {
  MetadataEntry as _relay_v1_MetadataEntry,
  MetadataEntry__Output as _relay_v1_MetadataEntry__Output,
} from "../../relay/v1/MetadataEntry.ts";

export interface GrpcStatus {
  "code"?: number;
  "message"?: string;
  "trailers"?: (_relay_v1_MetadataEntry)[];
}

export interface GrpcStatus__Output {
  "code": number;
  "message": string;
  "trailers": (_relay_v1_MetadataEntry__Output)[];
}
