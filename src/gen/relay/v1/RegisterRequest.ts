// Original file: proto/relay/v1/relay.proto

export interface RegisterRequest {
  "device_id"?: string;
  "metadata"?: { [key: string]: string };
  "previous_connection_id"?: string;
}

export interface RegisterRequest__Output {
  "device_id": string;
  "metadata": { [key: string]: string };
  "previous_connection_id": string;
}
