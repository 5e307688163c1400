// The device's own gRPC service in the transparent-call scenario, with no
// proto: bench.Echo/Unary answers each request with its bytes and
// bench.Echo/Stream (bidi) echoes every message on one stream, both with
// raw-byte serializers. A transparent call carries bytes unchanged, so this
// is any service as far as the relay can tell. The server listens twice on
// loopback: plaintext HTTP/2 (h2c, what the device agent and nginx reach, as
// a device's local server usually is) and TLS with the relay's dev
// certificate (what the direct client reaches, so the direct reference has
// the client's TLS leg that every other path has too).
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import { widenFlowControlWindows } from "../../transports/grpc/http2_servers.ts";

export const UNARY_PATH = "/bench.Echo/Unary";
export const STREAM_PATH = "/bench.Echo/Stream";
/** Room for the bench's largest message with margin. */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

/** Bytes out as they are (grpc-js wants a Buffer). */
export function serializeBytes(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Bytes in as they came. */
export function deserializeBytes(bytes: Buffer): Buffer {
  return bytes;
}

const method = (path: string, streaming: boolean) => ({
  path,
  requestStream: streaming,
  responseStream: streaming,
  requestSerialize: serializeBytes,
  requestDeserialize: deserializeBytes,
  responseSerialize: serializeBytes,
  responseDeserialize: deserializeBytes,
});

const ECHO_SERVICE: grpc.ServiceDefinition = {
  Unary: method(UNARY_PATH, false),
  Stream: method(STREAM_PATH, true),
};

const HANDLERS: grpc.UntypedServiceImplementation = {
  Unary: (
    call: grpc.ServerUnaryCall<Buffer, Buffer>,
    callback: grpc.sendUnaryData<Buffer>,
  ) => callback(null, call.request),
  Stream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
    // The client bounds what is in flight, so writes need no pacing here.
    call.on("data", (message: Buffer) => call.write(message));
    call.on("end", () => call.end());
    call.on("error", () => {
      // The client or the agent went away; nothing is left to answer.
    });
  },
};

export interface EchoServerTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export interface TransparentEchoServer {
  /** 127.0.0.1:PORT, plaintext HTTP/2. */
  readonly plaintextAddress: string;
  /** 127.0.0.1:PORT, TLS (the relay's dev certificate: verify as localhost). */
  readonly tlsAddress: string;
  close(): Promise<void>;
}

function bind(
  server: grpc.Server,
  credentials: grpc.ServerCredentials,
): Promise<string> {
  return new Promise((resolve, reject) =>
    server.bindAsync(
      "127.0.0.1:0",
      credentials,
      (error, port) => error ? reject(error) : resolve(`127.0.0.1:${port}`),
    )
  );
}

export async function startTransparentEchoServer(
  tls: EchoServerTls,
): Promise<TransparentEchoServer> {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
  });
  server.addService(ECHO_SERVICE, HANDLERS);
  const plaintextAddress = await bind(
    server,
    grpc.ServerCredentials.createInsecure(),
  );
  const tlsAddress = await bind(
    server,
    // With null root certificates, grpc-js under Deno 2.9.6 served
    // plaintext on this port (clients failed with "wrong version number").
    grpc.ServerCredentials.createSsl(Buffer.from(tls.caPem), [{
      cert_chain: Buffer.from(tls.certPem),
      private_key: Buffer.from(tls.keyPem),
    }]),
  );
  // The relay's HTTP/2 windows (as the direct echo server of the hop
  // scenario announces them): the paths differ by their hops, not by a
  // 64 KiB default window on the last leg.
  widenFlowControlWindows(server);
  return {
    plaintextAddress,
    tlsAddress,
    close: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
