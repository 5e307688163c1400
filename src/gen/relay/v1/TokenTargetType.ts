// Original file: proto/relay/v1/relay.proto

export const TokenTargetType = {
  TOKEN_TARGET_TYPE_UNSPECIFIED: "TOKEN_TARGET_TYPE_UNSPECIFIED",
  CONTROLLER: "CONTROLLER",
  DEVICE: "DEVICE",
} as const;

export type TokenTargetType =
  | "TOKEN_TARGET_TYPE_UNSPECIFIED"
  | 0
  | "CONTROLLER"
  | 1
  | "DEVICE"
  | 2;

export type TokenTargetType__Output =
  typeof TokenTargetType[keyof typeof TokenTargetType];
