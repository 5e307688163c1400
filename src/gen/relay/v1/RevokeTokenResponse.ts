// Original file: proto/relay/v1/relay.proto

export interface RevokeTokenResponse {
  "revoked"?: boolean;
  "closed_streams"?: number;
}

export interface RevokeTokenResponse__Output {
  "revoked": boolean;
  "closed_streams": number;
}
