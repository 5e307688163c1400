// relay.v1 loaded from the .proto by @grpc/proto-loader (no hand-written
// protobuf encoding); the typed shapes come from src/gen.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";
import type { ProtoGrpcType } from "../../src/gen/relay.ts";

const PROTO_PATH = fileURLToPath(
  new URL("../../proto/relay/v1/relay.proto", import.meta.url),
);

/** Loader options matching the generated types (see proto/gen.sh). */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

let loaded: ProtoGrpcType | undefined;

export function relayProto(): ProtoGrpcType {
  loaded ??= grpc.loadPackageDefinition(
    protoLoader.loadSync(PROTO_PATH, LOADER_OPTIONS),
  ) as unknown as ProtoGrpcType;
  return loaded;
}

/** Header carrying the exact relay error code next to the gRPC status. */
export const ERROR_CODE_HEADER = "relay-error-code";

/** Metadata naming the device a transparent call is for. */
export const DEVICE_ID_METADATA = "relay-device-id";

/**
 * Metadata a relay adds when it forwards a transparent call to the relay of
 * its cluster that holds the device (its relay id): the holder forwards it no
 * further. It grants nothing, so a client that sets it only stops its own call
 * from being forwarded.
 */
export const FORWARDED_METADATA = "relay-forwarded";
