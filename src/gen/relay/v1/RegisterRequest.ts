// Original file: proto/relay/v1/relay.proto

export interface RegisterRequest {
  "device_id"?: string;
  "metadata"?: { [key: string]: string };
  "previous_connection_id"?: string;
  "grpc_target"?: boolean;
}

export interface RegisterRequest__Output {
  "device_id": string;
  "metadata": { [key: string]: string };
  "previous_connection_id": string;
  "grpc_target": boolean;
}
