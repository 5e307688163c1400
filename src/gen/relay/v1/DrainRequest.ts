// Original file: proto/relay/v1/relay.proto

export interface DrainRequest {
  "controller_id"?: string;
  "admin_token"?: string;
  "timeout_seconds"?: number;
}

export interface DrainRequest__Output {
  "controller_id": string;
  "admin_token": string;
  "timeout_seconds": number;
}
