// Transparent gRPC calls on the relay's own gRPC port: grpc-js serves
// relay.v1, and every other method path goes to one generic handler (bytes
// in, bytes out, whatever the proto), which hands the call to the core as a
// GrpcCallLink. grpc-js keeps doing what it does for any call: framing,
// message size limits, grpc-timeout, cancellation, trailers.
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import {
  type GrpcCallLink,
  type GrpcStatus,
  isRelayOnlyMetadata,
} from "../../src/core/grpc_call_link.ts";
import { RelayError } from "../../src/errors/relay_error.ts";
import { metadataEntries, toMetadata } from "./metadata_entries.ts";
import { toServiceError } from "./status_mapping.ts";
import { DEVICE_ID_METADATA, FORWARDED_METADATA } from "./relay_proto.ts";
import { streamMessages } from "./stream_messages.ts";

export type RawDuplexCall = grpc.ServerDuplexStream<Buffer, Uint8Array>;

/**
 * Makes `server` hand calls of every method it does not serve itself to
 * `serve`. grpc-js has no public fallback for unknown methods; its lookup
 * (`_retrieveHandler`) is wrapped, as http2_servers.ts reaches its servers.
 */
export function serveOtherMethods(
  server: grpc.Server,
  serve: (call: RawDuplexCall) => void,
): void {
  const internal = server as unknown as {
    _retrieveHandler?: (path: string) => unknown;
  };
  const lookup = internal._retrieveHandler;
  if (typeof lookup !== "function") {
    throw new Error("grpc-js internals changed: no _retrieveHandler to wrap");
  }
  const generic = {
    func: serve,
    serialize: (message: Uint8Array) =>
      Buffer.from(message.buffer, message.byteOffset, message.byteLength),
    deserialize: (bytes: Buffer) => bytes,
    type: "bidi",
  };
  internal._retrieveHandler = function (this: unknown, path: string) {
    return lookup.call(this, path) ?? { ...generic, path };
  };
}

/** The bearer token of `authorization` metadata, "" when none. */
export function bearerOf(metadata: grpc.Metadata): string {
  const value = metadata.get("authorization")[0];
  return typeof value === "string" ? value.replace(/^Bearer\s+/i, "") : "";
}

/** Request metadata that is about the hop to the relay, not for the device. */
function forDevice(key: string): boolean {
  return !isRelayOnlyMetadata(key) && key !== "user-agent" &&
    !key.startsWith("grpc-");
}

/** A generic grpc-js call as the core's GrpcCallLink. */
export function grpcCallLink(call: RawDuplexCall): GrpcCallLink {
  const ended = new AbortController();
  let done = false;
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date
    ? deadline.getTime()
    : Number.isFinite(deadline)
    ? deadline
    : undefined;
  call.once("cancelled", () => {
    // Also after a status was sent: the client resets the finished stream.
    if (done) return;
    const expired = deadlineMs !== undefined && Date.now() >= deadlineMs;
    ended.abort(
      expired
        ? new RelayError("DEADLINE_EXCEEDED", "the caller's deadline passed", {
          source: "downstream",
        })
        : new RelayError("CANCELLED", "the caller cancelled the call", {
          source: "downstream",
        }),
    );
  });
  // Ended by grpc-js itself (e.g. an oversized message) or the stream broke.
  call.once("close", () => {
    if (!done) {
      ended.abort(
        new RelayError("CANCELLED", "the caller's stream ended", {
          source: "downstream",
        }),
      );
    }
  });
  const end = (status: Partial<grpc.StatusObject>) => {
    if (done) return;
    done = true;
    if (status.code === grpc.status.OK) call.end(status.metadata);
    else call.emit("error", status);
  };
  return {
    remoteAddress: call.getPeer(),
    transport: "h2",
    bearerToken: bearerOf(call.metadata),
    deviceId: String(call.metadata.get(DEVICE_ID_METADATA)[0] ?? ""),
    forwardedBy: String(call.metadata.get(FORWARDED_METADATA)[0] ?? ""),
    head: {
      method: call.getPath(),
      metadata: metadataEntries(call.metadata, forDevice),
      deadline: deadlineMs,
    },
    messages: streamMessages<Uint8Array>(call, ended.signal),
    signal: ended.signal,
    sendHeaders(headers) {
      if (!done) call.sendMetadata(toMetadata(headers));
    },
    send(message) {
      if (done || ended.signal.aborted) return Promise.resolve();
      if (call.write(message)) return Promise.resolve();
      return new Promise((resolve) => {
        const settle = () => {
          call.off("drain", settle);
          ended.signal.removeEventListener("abort", settle);
          resolve();
        };
        call.once("drain", settle);
        ended.signal.addEventListener("abort", settle, { once: true });
      });
    },
    finish(status: GrpcStatus) {
      end({
        code: status.code,
        details: status.message,
        metadata: toMetadata(status.trailers),
      });
    },
    fail(error) {
      ended.abort(error);
      end(toServiceError(error));
    },
  };
}
