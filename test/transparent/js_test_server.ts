// A small device-side gRPC server in grpc-js (no Python needed): testsvc's
// Unary (echo, optionally after a delay, ended early by cancellation),
// optionally over TLS and with gRPC server reflection (@grpc/reflection).
// The other testsvc methods answer UNIMPLEMENTED (grpc-js's default).
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
// Only this test server uses it, so it is not in deno.json's imports.
// deno-lint-ignore no-import-prefix
import { ReflectionService } from "npm:@grpc/reflection@1.0.4";
import type { EchoReply, EchoRequest } from "./testsvc_proto.ts";
import { testService, testsvcDefinition } from "./testsvc_proto.ts";

export interface JsTestServerOptions {
  /** Unary answers after this long (default at once). */
  unaryDelayMs?: number;
  /** Also serve grpc.reflection (v1 and v1alpha). */
  reflection?: boolean;
  /** Serve TLS with this certificate, issued by caPem (default plaintext). */
  tls?: { caPem: string; certPem: string; keyPem: string };
}

export class JsTestServer {
  /** 127.0.0.1:<port> */
  readonly address: string;
  /** Unary calls received, and those cancelled before their answer. */
  readonly counts = { unary: 0, cancelled: 0 };
  readonly #server: grpc.Server;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();

  private constructor(address: string, server: grpc.Server) {
    this.address = address;
    this.#server = server;
  }

  static async start(options: JsTestServerOptions = {}): Promise<JsTestServer> {
    const server = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        "127.0.0.1:0",
        options.tls === undefined
          ? grpc.ServerCredentials.createInsecure()
          // Under Deno the handshake fails (HandshakePayloadTooLarge at the
          // client) unless the server also has its CA as root certificates.
          : grpc.ServerCredentials.createSsl(Buffer.from(options.tls.caPem), [{
            cert_chain: Buffer.from(options.tls.certPem),
            private_key: Buffer.from(options.tls.keyPem),
          }]),
        (error, bound) => error ? reject(error) : resolve(bound),
      )
    );
    const instance = new JsTestServer(`127.0.0.1:${port}`, server);
    server.addService(testService(), {
      Unary: instance.#unary(options.unaryDelayMs ?? 0),
    });
    if (options.reflection) {
      new ReflectionService(testsvcDefinition()).addToServer(server);
    }
    return instance;
  }

  #unary(delayMs: number): grpc.handleUnaryCall<EchoRequest, EchoReply> {
    return (call, callback) => {
      this.counts.unary++;
      const reply = {
        text: call.request.text ?? "",
        payload: call.request.payload ?? new Uint8Array(),
      } as EchoReply;
      if (delayMs === 0) return callback(null, reply);
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        callback(null, reply);
      }, delayMs);
      this.#timers.add(timer);
      call.on("cancelled", () => {
        this.counts.cancelled++;
        clearTimeout(timer);
        this.#timers.delete(timer);
      });
    };
  }

  close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#server.forceShutdown();
    return Promise.resolve();
  }
}
