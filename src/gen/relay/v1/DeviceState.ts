// Original file: proto/relay/v1/relay.proto

export const DeviceState = {
  DEVICE_STATE_UNSPECIFIED: "DEVICE_STATE_UNSPECIFIED",
  ONLINE: "ONLINE",
  SUSPECT: "SUSPECT",
  DISCONNECTED: "DISCONNECTED",
} as const;

export type DeviceState =
  | "DEVICE_STATE_UNSPECIFIED"
  | 0
  | "ONLINE"
  | 1
  | "SUSPECT"
  | 2
  | "DISCONNECTED"
  | 3;

export type DeviceState__Output = typeof DeviceState[keyof typeof DeviceState];
