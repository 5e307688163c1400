// A raw gRPC client (grpc-js over TLS) that writes any bytes as a message
// body and reports the relay's gRPC status as it is, before any mapping by
// the SDK: for frames the relay must refuse (invalid protobuf, oversized).
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import { checkServerIdentity } from "node:tls";
import { hostOf } from "../../src/config/host_port.ts";
import type { ControllerMessage } from "../../src/sdk/connector.ts";
import { relayProto } from "../../transports/grpc/relay_proto.ts";
import type { TestRelay } from "../harness.ts";

export type StreamMethod = "DeviceConnect" | "ConnectToDevice";

export interface RawGrpcCall {
  /** Writes `bytes` as one gRPC message (length prefix added by grpc-js). */
  write(bytes: Uint8Array): void;
  end(): void;
  /** Message bodies received so far. */
  readonly received: Uint8Array[];
  /** The call's final status; rejects if none arrives within `timeoutMs`. */
  status(timeoutMs?: number): Promise<grpc.StatusObject>;
  cancel(): void;
}

export interface RawGrpcClient {
  stream(method: StreamMethod, token?: string): RawGrpcCall;
  close(): void;
}

const identity = (bytes: Buffer) => bytes;

export function rawGrpcClient(
  t: TestRelay,
  maxMessageBytes = 16 * 1024 * 1024,
): RawGrpcClient {
  const host = hostOf(t.relay.grpcAddress);
  const credentials = grpc.credentials.createSsl(
    Buffer.from(t.relay.caPem),
    null,
    null,
    // As the SDK does: an IP target is verified against the IP itself.
    { checkServerIdentity: (_name, cert) => checkServerIdentity(host, cert) },
  );
  const client = new grpc.Client(t.relay.grpcAddress, credentials, {
    "grpc.ssl_target_name_override": "ip-address.invalid",
    "grpc.max_send_message_length": maxMessageBytes,
    "grpc.max_receive_message_length": maxMessageBytes,
  });
  return {
    stream(method, token = "") {
      const metadata = new grpc.Metadata();
      if (token !== "") metadata.set("authorization", `Bearer ${token}`);
      const call = client.makeBidiStreamRequest<Buffer, Buffer>(
        `/relay.v1.RelayService/${method}`,
        identity,
        identity,
        metadata,
      );
      const received: Uint8Array[] = [];
      const status = new Promise<grpc.StatusObject>((resolve) =>
        call.on("status", resolve)
      );
      call.on("data", (bytes: Buffer) => received.push(new Uint8Array(bytes)));
      call.on("error", () => {
        // The status event carries the same failure.
      });
      return {
        write: (bytes) => void call.write(Buffer.from(bytes)),
        end: () => call.end(),
        received,
        async status(timeoutMs = 2000) {
          let timer: ReturnType<typeof setTimeout> | undefined;
          const expired = new Promise<never>((_, reject) => {
            timer = setTimeout(
              () =>
                reject(
                  new Error(`no status for ${method} within ${timeoutMs} ms`),
                ),
              timeoutMs,
            );
          });
          try {
            return await Promise.race([status, expired]);
          } finally {
            clearTimeout(timer);
          }
        },
        cancel: () => call.cancel(),
      };
    },
    close: () => client.close(),
  };
}

const service = () => relayProto().relay.v1.RelayService.service;

/** A well-formed ControllerMessage, encoded as grpc-js would. */
export function controllerMessageBytes(message: ControllerMessage): Uint8Array {
  return new Uint8Array(service().ConnectToDevice.requestSerialize(message));
}

/** Decodes a DeviceResponse received on a raw ConnectToDevice call. */
export function deviceResponseOf(bytes: Uint8Array) {
  return service().ConnectToDevice.responseDeserialize(Buffer.from(bytes));
}

/** The relay's own error code sent next to the status (relay-error-code). */
export function relayCodeOf(status: grpc.StatusObject): string | undefined {
  const value = status.metadata?.get("relay-error-code")[0];
  return typeof value === "string" ? value : undefined;
}

export { grpc };
