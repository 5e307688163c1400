// Original file: proto/relay/v1/relay.proto

import type {
  MetadataEntry as _relay_v1_MetadataEntry,
  MetadataEntry__Output as _relay_v1_MetadataEntry__Output,
} from "../../relay/v1/MetadataEntry.ts";

export interface GrpcMetadata {
  "entries"?: (_relay_v1_MetadataEntry)[];
}

export interface GrpcMetadata__Output {
  "entries": (_relay_v1_MetadataEntry__Output)[];
}
