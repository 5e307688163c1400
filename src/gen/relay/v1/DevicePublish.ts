// Original file: proto/relay/v1/relay.proto

import type { Long } from "@grpc/proto-loader";

export interface DevicePublish {
  "id"?: number | string | Long;
  "topic"?: string;
  "payload"?: Buffer | Uint8Array | string;
  "qos"?: number;
  "retain"?: boolean;
}

export interface DevicePublish__Output {
  "id": number;
  "topic": string;
  "payload": Buffer;
  "qos": number;
  "retain": boolean;
}
