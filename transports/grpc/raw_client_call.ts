// One grpc-js client call of any method, bytes in and out (identity
// serializers), as a GrpcClientCall: the device agent's call to the device's
// own server (grpc_target_client.ts) and a relay's call to the relay of its
// cluster that holds the device (peer_relay_channels.ts).
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import type {
  GrpcCallHead,
  GrpcClientCall,
  GrpcStatus,
  MetadataEntry,
} from "../../src/wire/grpc_call_types.ts";
import { metadataEntries, toMetadata } from "./metadata_entries.ts";
import { streamMessages } from "./stream_messages.ts";

const asBuffer = (message: Uint8Array): Buffer =>
  Buffer.from(message.buffer, message.byteOffset, message.byteLength);

/**
 * Starts the call; `unreachable` rewords the status of a call that never
 * reached the server, so a caller can tell it from the server's own
 * UNAVAILABLE (passed on unchanged).
 */
export function rawClientCall(
  client: grpc.Client,
  head: GrpcCallHead,
  unreachable: (details: string) => string,
  metadata: grpc.Metadata = toMetadata(head.metadata),
): GrpcClientCall {
  const call = client.makeBidiStreamRequest(
    head.method,
    asBuffer,
    (bytes: Buffer) => bytes,
    metadata,
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
          ? unreachable(status.details)
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

/** The call never reached the server (no connection). */
function notConnected(status: grpc.StatusObject): boolean {
  return status.code === grpc.status.UNAVAILABLE &&
    status.details.startsWith("No connection established");
}
