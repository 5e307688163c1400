// Original file: proto/relay/v1/relay.proto

export interface MetadataEntry {
  "key"?: string;
  "value"?: Buffer | Uint8Array | string;
}

export interface MetadataEntry__Output {
  "key": string;
  "value": Buffer;
}
