// relay.v1 messages as protobuf bytes for the QUIC transport: the table of
// browser/relay_wire.js (the one the browser client loads too) over
// protobufjs loaded from the .proto, typed with the generated shapes (what
// a side encodes, and the __Output it decodes).
import protobuf from "protobufjs";
import { fileURLToPath } from "node:url";
import {
  messageCodec,
  relayCodecs as codecsOver,
} from "./browser/relay_wire.js";
import type {
  ControllerMessage,
  ControllerMessage__Output,
} from "../../src/gen/relay/v1/ControllerMessage.ts";
import type {
  ControllerStreamFrame,
  ControllerStreamFrame__Output,
} from "../../src/gen/relay/v1/ControllerStreamFrame.ts";
import type {
  DeviceMessage,
  DeviceMessage__Output,
} from "../../src/gen/relay/v1/DeviceMessage.ts";
import type {
  ListOnlineDevicesRequest,
  ListOnlineDevicesRequest__Output,
} from "../../src/gen/relay/v1/ListOnlineDevicesRequest.ts";
import type {
  RelayMessage,
  RelayMessage__Output,
} from "../../src/gen/relay/v1/RelayMessage.ts";
import type {
  RevokeTokenRequest,
  RevokeTokenRequest__Output,
} from "../../src/gen/relay/v1/RevokeTokenRequest.ts";
import type {
  StreamOpen,
  StreamOpen__Output,
} from "../../src/gen/relay/v1/StreamOpen.ts";
import type {
  TunnelFrame,
  TunnelFrame__Output,
} from "../../src/gen/relay/v1/TunnelFrame.ts";

const PROTO_PATH = fileURLToPath(
  new URL("../../proto/relay/v1/relay.proto", import.meta.url),
);

/** Encodes `Input` (a generated message shape), decodes to `Output` (its __Output). */
export interface MessageCodec<Input, Output = Input> {
  encode(message: Input): Uint8Array;
  /** The message as one length-prefixed frame (see frame_stream.ts). */
  frame(message: Input): Uint8Array;
  decode(bytes: Uint8Array): Output;
}

/** Every message a relay.v1 stream carries, by its role. */
export interface RelayCodecs {
  open: MessageCodec<StreamOpen, StreamOpen__Output>;
  deviceMessage: MessageCodec<DeviceMessage, DeviceMessage__Output>;
  relayMessage: MessageCodec<RelayMessage, RelayMessage__Output>;
  controllerMessage: MessageCodec<ControllerMessage, ControllerMessage__Output>;
  controllerFrame: MessageCodec<
    ControllerStreamFrame,
    ControllerStreamFrame__Output
  >;
  listRequest: MessageCodec<
    ListOnlineDevicesRequest,
    ListOnlineDevicesRequest__Output
  >;
  revokeRequest: MessageCodec<RevokeTokenRequest, RevokeTokenRequest__Output>;
  tunnelFrame: MessageCodec<TunnelFrame, TunnelFrame__Output>;
}

export type MessageName =
  | "StreamOpen"
  | "DeviceMessage"
  | "RelayMessage"
  | "ControllerMessage"
  | "ControllerStreamFrame"
  | "ListOnlineDevicesRequest"
  | "RevokeTokenRequest"
  | "TunnelFrame";

let root: protobuf.Root | undefined;

function relayProto(): protobuf.Root {
  return root ??= new protobuf.Root().loadSync(PROTO_PATH, { keepCase: true });
}

export const relayCodecs: RelayCodecs = codecsOver(protobuf, relayProto());

/** One message's codec, typed by the caller (relayCodecs has them all typed). */
export function codecFor<T>(name: MessageName): MessageCodec<T> {
  return messageCodec(protobuf, relayProto(), name);
}
