// Original file: proto/relay/v1/relay.proto

export const TunnelKind = {
  TUNNEL_KIND_UNSPECIFIED: "TUNNEL_KIND_UNSPECIFIED",
  MQTT: "MQTT",
  GRPC_CALL: "GRPC_CALL",
} as const;

export type TunnelKind =
  | "TUNNEL_KIND_UNSPECIFIED"
  | 0
  | "MQTT"
  | 1
  | "GRPC_CALL"
  | 2;

export type TunnelKind__Output = typeof TunnelKind[keyof typeof TunnelKind];
