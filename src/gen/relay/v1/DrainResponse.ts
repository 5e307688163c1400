// Original file: proto/relay/v1/relay.proto

export interface DrainResponse {
  "devices"?: number;
}

export interface DrainResponse__Output {
  "devices": number;
}
