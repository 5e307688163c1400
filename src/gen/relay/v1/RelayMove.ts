// Original file: proto/relay/v1/relay.proto

export interface RelayMove {
  "reason"?: string;
  "relay_address"?: string;
  "quic_address"?: string;
}

export interface RelayMove__Output {
  "reason": string;
  "relay_address": string;
  "quic_address": string;
}
