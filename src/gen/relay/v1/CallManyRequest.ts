// Original file: proto/relay/v1/relay.proto

import type {
  MetadataEntry as _relay_v1_MetadataEntry,
  MetadataEntry__Output as _relay_v1_MetadataEntry__Output,
} from "../../relay/v1/MetadataEntry.ts";
import type { Long } from "@grpc/proto-loader";

export interface CallManyRequest {
  "controller_id"?: string;
  "token"?: string;
  "method"?: string;
  "request"?: Buffer | Uint8Array | string;
  "device_ids"?: (string)[];
  "label_selector"?: { [key: string]: string };
  "per_device_timeout_ms"?: number | string | Long;
  "max_concurrency"?: number;
  "metadata"?: (_relay_v1_MetadataEntry)[];
}

export interface CallManyRequest__Output {
  "controller_id": string;
  "token": string;
  "method": string;
  "request": Buffer;
  "device_ids": (string)[];
  "label_selector": { [key: string]: string };
  "per_device_timeout_ms": number;
  "max_concurrency": number;
  "metadata": (_relay_v1_MetadataEntry__Output)[];
}
