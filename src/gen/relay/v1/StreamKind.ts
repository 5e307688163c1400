// Original file: proto/relay/v1/relay.proto

export const StreamKind = {
  STREAM_KIND_UNSPECIFIED: "STREAM_KIND_UNSPECIFIED",
  DEVICE_CONNECT: "DEVICE_CONNECT",
  CONNECT_TO_DEVICE: "CONNECT_TO_DEVICE",
  LIST_ONLINE_DEVICES: "LIST_ONLINE_DEVICES",
  REVOKE_TOKEN: "REVOKE_TOKEN",
  TUNNEL: "TUNNEL",
} as const;

export type StreamKind =
  | "STREAM_KIND_UNSPECIFIED"
  | 0
  | "DEVICE_CONNECT"
  | 1
  | "CONNECT_TO_DEVICE"
  | 2
  | "LIST_ONLINE_DEVICES"
  | 3
  | "REVOKE_TOKEN"
  | 4
  | "TUNNEL"
  | 5;

export type StreamKind__Output = typeof StreamKind[keyof typeof StreamKind];
