// relay.v1 messages as protobuf bytes for the QUIC transport, via protobufjs
// loaded from the .proto (the same shapes @grpc/proto-loader produces for
// the gRPC transport: keepCase, int64 as number, enums as strings, oneofs).
import protobuf from "protobufjs";
import { fileURLToPath } from "node:url";
import { sealFrame } from "./frame_stream.ts";

const PROTO_PATH = fileURLToPath(
  new URL("../../proto/relay/v1/relay.proto", import.meta.url),
);

const CONVERSION: protobuf.IConversionOptions = {
  longs: Number,
  enums: String,
  defaults: true,
  arrays: true,
  objects: true,
  oneofs: true,
};

export type MessageName =
  | "StreamOpen"
  | "DeviceMessage"
  | "RelayMessage"
  | "ControllerMessage"
  | "ControllerStreamFrame"
  | "ListOnlineDevicesRequest"
  | "RevokeTokenRequest"
  | "TunnelFrame";

export interface MessageCodec<T> {
  encode(message: T): Uint8Array;
  /** The message as one length-prefixed frame (see frame_stream.ts). */
  frame(message: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

let root: protobuf.Root | undefined;

export function codecFor<T>(name: MessageName): MessageCodec<T> {
  root ??= new protobuf.Root().loadSync(PROTO_PATH, { keepCase: true });
  const type = root.lookupType(`relay.v1.${name}`);
  const fromObject = (message: T) =>
    type.fromObject(message as Record<string, unknown>);
  return {
    encode: (message) => type.encode(fromObject(message)).finish(),
    frame: (message) => {
      // Encoded behind the header's 4 bytes, which sealFrame then fills.
      const writer = protobuf.Writer.create().fixed32(0);
      return sealFrame(type.encode(fromObject(message), writer).finish());
    },
    decode: (bytes) => type.toObject(type.decode(bytes), CONVERSION) as T,
  };
}
