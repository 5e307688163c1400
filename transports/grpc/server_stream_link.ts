// Turns a grpc-js server duplex call into the core's link shape: async
// iteration for inbound messages, write with backpressure, close with status
// (after the error message, on streams that carry their errors in band).
import type * as grpc from "@grpc/grpc-js";
import { RelayError } from "../../src/errors/relay_error.ts";
import { toServiceError } from "./status_mapping.ts";
import { streamMessages } from "./stream_messages.ts";

export interface ServerStreamLink<In, Out> {
  readonly transport: "h2";
  readonly remoteAddress: string;
  readonly bearerToken: string;
  /** W3C traceparent from the call's metadata, "" when none was sent. */
  readonly traceparent: string;
  readonly messages: AsyncIterable<In>;
  readonly signal: AbortSignal;
  send(message: Out): Promise<void>;
  close(error?: RelayError): void;
}

export interface ServerStreamLinkOptions<Out> {
  /**
   * The message written before an error status, on streams whose peer reads
   * its errors in band (device and tunnel streams); undefined for none.
   */
  inBandError?: (error: RelayError) => Out | undefined;
}

export function serverStreamLink<In, Out>(
  call: grpc.ServerDuplexStream<In, Out>,
  options: ServerStreamLinkOptions<Out> = {},
): ServerStreamLink<In, Out> {
  const aborter = new AbortController();
  let closed = false;
  let drained: Promise<void> | undefined;
  const gone = () => {
    closed = true;
    aborter.abort(
      new RelayError("CANCELLED", "stream closed by peer", {
        source: "downstream",
      }),
    );
  };
  call.on("cancelled", gone);
  call.on("close", gone);
  call.on("error", gone);
  const authorization = call.metadata.get("authorization")[0];
  const bearer = typeof authorization === "string"
    ? authorization.replace(/^Bearer\s+/i, "")
    : "";

  const traceparent = call.metadata.get("traceparent")[0];
  return {
    transport: "h2",
    remoteAddress: call.getPeer(),
    bearerToken: bearer,
    traceparent: typeof traceparent === "string" ? traceparent : "",
    messages: streamMessages<In>(call, aborter.signal),
    signal: aborter.signal,
    send(message: Out): Promise<void> {
      if (closed || call.writableEnded || call.destroyed) {
        return Promise.reject(new RelayError("CANCELLED", "stream is closed"));
      }
      if (call.write(message)) return Promise.resolve();
      // Over the high-water mark: every writer waits for the same drain.
      drained ??= new Promise<void>((resolve, reject) => {
        const settle = () => {
          drained = undefined;
          call.off("drain", onDrain);
          aborter.signal.removeEventListener("abort", onAbort);
        };
        const onDrain = () => {
          settle();
          resolve();
        };
        const onAbort = () => {
          settle();
          reject(new RelayError("CANCELLED", "stream closed while writing"));
        };
        call.on("drain", onDrain);
        aborter.signal.addEventListener("abort", onAbort, { once: true });
      });
      return drained;
    },
    close(error?: RelayError): void {
      if (closed) return;
      closed = true;
      if (error === undefined || error.code === "OK") {
        call.end();
      } else {
        const message = options.inBandError?.(error);
        if (message !== undefined && !call.writableEnded && !call.destroyed) {
          call.write(message);
        }
        // grpc-js sends the status once the messages written before it are out.
        call.emit("error", toServiceError(error));
      }
      aborter.abort(error ?? new RelayError("CANCELLED", "stream closed"));
    },
  };
}
