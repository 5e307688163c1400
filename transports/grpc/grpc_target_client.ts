// The device's own gRPC server as a GrpcTarget (src/sdk/grpc_target.ts):
// grpc-js calls any method with bytes in and out (identity serializers), so
// the agent forwards calls without knowing the server's protos.
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import type {
  GrpcCallHead,
  GrpcStatus,
  GrpcTarget,
  LocalGrpcCall,
  MetadataEntry,
} from "../../src/sdk/grpc_target.ts";
import { channelCredentials } from "./channel_credentials.ts";
import { GRPC_RECONNECT_BACKOFF_MS } from "./grpc_connectors.ts";
import { metadataEntries, toMetadata } from "./metadata_entries.ts";
import { streamMessages } from "./stream_messages.ts";

export interface GrpcTargetOptions {
  /** host:port of the device's gRPC server (plaintext unless caPem, serverName or tls). */
  address: string;
  /** PEM of the CA that issued the server's certificate; implies TLS. */
  caPem?: string;
  /** TLS server name when it differs from the host in `address`; implies TLS. */
  serverName?: string;
  /** TLS against the system roots. */
  tls?: boolean;
}

export function grpcTarget(options: GrpcTargetOptions): GrpcTarget {
  const tls = options.tls === true || options.caPem !== undefined ||
    options.serverName !== undefined;
  const { credentials, channelOptions } = channelCredentials({
    ...options,
    insecure: !tls,
  });
  // The channel dials on the first call and redials after the server restarts.
  let client: grpc.Client | undefined;
  const open = () =>
    client ??= new grpc.Client(options.address, credentials, {
      ...channelOptions,
      // The relay bounds message sizes; the server applies its own.
      "grpc.max_receive_message_length": -1,
      "grpc.max_send_message_length": -1,
      // A restarted server is reached again within this, not grpc-js's 120 s.
      "grpc.initial_reconnect_backoff_ms": GRPC_RECONNECT_BACKOFF_MS,
      "grpc.max_reconnect_backoff_ms": 1000,
    });
  return {
    address: options.address,
    call: (head) => localCall(open(), head, options.address),
    close() {
      client?.close();
      client = undefined;
    },
  };
}

const asBuffer = (message: Uint8Array): Buffer =>
  Buffer.from(message.buffer, message.byteOffset, message.byteLength);

function localCall(
  client: grpc.Client,
  head: GrpcCallHead,
  address: string,
): LocalGrpcCall {
  const call = client.makeBidiStreamRequest(
    head.method,
    asBuffer,
    (bytes: Buffer) => bytes,
    toMetadata(head.metadata),
    head.deadline === undefined ? {} : { deadline: new Date(head.deadline) },
  );
  // Non-OK statuses also come as 'error'; `status` carries them.
  call.on("error", () => {});
  let finished = false;
  call.once("status", () => finished = true);
  const status = new Promise<GrpcStatus>((resolve) =>
    call.once("status", (status: grpc.StatusObject) =>
      resolve({
        code: status.code,
        message: notConnected(status)
          ? `device's gRPC target ${address}: ${status.details}`
          : status.details,
        trailers: metadataEntries(status.metadata),
      }))
  );
  const headers = new Promise<MetadataEntry[] | null>((resolve) => {
    call.once("metadata", (metadata) => resolve(metadataEntries(metadata)));
    status.then(() => resolve(null));
  });
  return {
    headers,
    messages: streamMessages<Uint8Array>(call),
    status,
    // Waits only above grpc-js's high-water mark (16 messages), so writes
    // overlap as on the relay's links. A finished call takes nothing more
    // (a caller may still be streaming to it) and never drains.
    send: (message) => {
      if (finished || call.write(asBuffer(message))) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = () => {
          call.off("drain", done);
          call.off("status", done);
          resolve();
        };
        call.once("drain", done);
        call.once("status", done);
      });
    },
    halfClose: () => call.end(),
    cancel: () => call.cancel(),
  };
}

/**
 * The call never reached the server. Named, so a caller can tell it from
 * the server's own UNAVAILABLE (passed on unchanged) and from the relay's.
 */
function notConnected(status: grpc.StatusObject): boolean {
  return status.code === grpc.status.UNAVAILABLE &&
    status.details.startsWith("No connection established");
}
