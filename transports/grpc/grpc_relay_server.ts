// HTTP/2 gRPC adapter: serves relay.v1 RelayService with @grpc/grpc-js and
// hands every call to the transport-agnostic core.
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import { formatHostPort, hostOf } from "../../src/config/host_port.ts";
import type { Peer } from "../../src/core/gatekeeper.ts";
import { inBandError } from "../../src/core/links.ts";
import type { RelayCore } from "../../src/core/relay_core.ts";
import type {
  ControllerMessage,
  DeviceMessage,
  TunnelFrame__Output,
} from "../../src/core/messages.ts";
import { RelayError } from "../../src/errors/relay_error.ts";
import type { Logger } from "../../src/observability/logger.ts";
import type { RelayServiceHandlers } from "../../src/gen/relay/v1/RelayService.ts";
import { relayProto } from "./relay_proto.ts";
import { HandshakeAdmission } from "../../src/limits/handshake_admission.ts";
import { waitAtMost } from "../../src/limits/deadline.ts";
import { guardConnections } from "./connection_guard.ts";
import { noGoawayReply } from "./goaway_reply.ts";
import { widenFlowControlWindows } from "./http2_servers.ts";
import { pingInRootContext } from "./keepalive_ping_context.ts";
import { serverStreamLink } from "./server_stream_link.ts";
import {
  bearerOf,
  grpcCallLink,
  serveOtherMethods,
} from "./grpc_call_adapter.ts";
import type { CallManyRequest__Output } from "../../src/gen/relay/v1/CallManyRequest.ts";
import type { CallManyResult } from "../../src/gen/relay/v1/CallManyResult.ts";
import { toServiceError } from "./status_mapping.ts";

export interface TlsMaterial {
  certPem: string;
  keyPem: string;
  /** CA bundle for grpc-js; required so it never loads the system roots. */
  caPem: string;
}

export interface GrpcRelayServerOptions {
  core: RelayCore;
  address: string;
  /** null means plaintext (explicit opt-out). */
  tls: TlsMaterial | null;
  /** Largest gRPC message either way (payload plus envelope). */
  maxMessageBytes: number;
  /** Bound on the TLS handshake and on the wait for a connection's first stream. */
  handshakeTimeoutMs: number;
  /** Connections in their TLS handshake at once; more are closed at once. */
  maxPendingHandshakes: number;
  logger: Logger;
}

export class GrpcRelayServer {
  readonly #options: GrpcRelayServerOptions;
  readonly #server: grpc.Server;
  #port = 0;

  constructor(options: GrpcRelayServerOptions) {
    this.#options = options;
    const maxMessage = options.maxMessageBytes;
    this.#server = new grpc.Server({
      "grpc.max_receive_message_length": maxMessage,
      "grpc.max_send_message_length": maxMessage,
      "grpc.keepalive_time_ms": 60_000,
      "grpc.keepalive_timeout_ms": 20_000,
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.http2.min_ping_interval_without_data_ms": 10_000,
    });
    this.#server.addService(
      relayProto().relay.v1.RelayService.service,
      this.#handlers(),
    );
    // Every other method: a transparent call to a device's own server.
    serveOtherMethods(this.#server, (call) => {
      options.core.acceptGrpcCall(grpcCallLink(call)).catch((error) =>
        options.logger.error("transparent call crashed", {
          error: String(error),
        })
      );
    });
  }

  /** Binds and starts serving; resolves with the bound port. */
  async listen(): Promise<number> {
    const tls = this.#options.tls;
    const credentials = tls === null
      ? grpc.ServerCredentials.createInsecure()
      : hardenTls(
        grpc.ServerCredentials.createSsl(Buffer.from(tls.caPem), [{
          cert_chain: Buffer.from(tls.certPem),
          private_key: Buffer.from(tls.keyPem),
        }]),
        this.#options.handshakeTimeoutMs,
      );
    this.#port = await new Promise<number>((resolve, reject) => {
      this.#server.bindAsync(
        this.#options.address,
        credentials,
        (error, port) => {
          if (error) {
            reject(
              new RelayError(
                "UNAVAILABLE",
                `cannot listen on ${this.#options.address}: ${error.message}`,
              ),
            );
          } else resolve(port);
        },
      );
    });
    const { core, handshakeTimeoutMs, maxPendingHandshakes } = this.#options;
    guardConnections(this.#server, {
      handshakeTimeoutMs,
      admission: new HandshakeAdmission(
        maxPendingHandshakes,
        () => core.gate.handshakeShed(),
      ),
      onHandshakeTimeout: (remoteAddress) =>
        core.gate.handshakeTimedOut(
          { remoteAddress, transport: "h2" },
          "no stream",
        ),
      onTlsFailure: (remoteAddress, reason) =>
        core.gate.tlsFailed({ remoteAddress, transport: "h2" }, reason),
    });
    widenFlowControlWindows(this.#server);
    noGoawayReply(this.#server);
    // Else each keepalive ping's async context keeps every earlier one alive.
    pingInRootContext();
    return this.#port;
  }

  /** Stops accepting new connections; open calls continue. */
  stopAccepting(): void {
    // grpc-js unbinds by the bound address (port 0 resolved).
    this.#server.unbind(
      formatHostPort(hostOf(this.#options.address), this.#port),
    );
  }

  /** Waits for open calls to end, forcing them closed after `timeoutMs`. */
  async close(timeoutMs: number): Promise<void> {
    const shutDown = new Promise<void>((resolve) =>
      this.#server.tryShutdown(() => resolve())
    );
    if (!await waitAtMost(shutDown, timeoutMs)) this.#server.forceShutdown();
  }

  #handlers(): RelayServiceHandlers {
    const { core, logger } = this.#options;
    return {
      DeviceConnect: (call) => {
        // A device reads a refusal as a RelayMessage error before the status.
        const link = serverStreamLink(call, { inBandError });
        core.acceptDevice({
          ...link,
          messages: link.messages as AsyncIterable<DeviceMessage>,
        })
          .catch((error) =>
            logger.error("device stream crashed", { error: String(error) })
          );
      },
      ConnectToDevice: (call) => {
        const link = serverStreamLink(call);
        core.acceptController({
          ...link,
          messages: link.messages as AsyncIterable<ControllerMessage>,
        }).catch((error) =>
          logger.error("controller stream crashed", { error: String(error) })
        );
      },
      OpenTunnel: (call) => {
        // Its own HTTP/2 stream, so its own flow control: a stalled tunnel
        // never holds up the device's other streams. Errors: a TunnelFrame
        // error before the status.
        const link = serverStreamLink(call, { inBandError });
        core.acceptTunnel({
          ...link,
          messages: link.messages as AsyncIterable<TunnelFrame__Output>,
        }).catch((error) =>
          logger.error("tunnel stream crashed", { error: String(error) })
        );
      },
      ListOnlineDevices: (call, callback) => {
        core.listDevices(peerOf(call), bearerOf(call.metadata), call.request)
          .then((devices) => callback(null, { devices }))
          .catch((error) => callback(toServiceError(RelayError.from(error))));
      },
      CallMany: (call) => {
        streamCallMany(call, core).catch((error) =>
          logger.error("CallMany crashed", { error: String(error) })
        );
      },
      RevokeToken: (call, callback) => {
        core.revokeToken(peerOf(call), bearerOf(call.metadata), call.request)
          .then((response) => callback(null, response))
          .catch((error) => callback(toServiceError(RelayError.from(error))));
      },
      Drain: (call, callback) => {
        core.requestDrain(peerOf(call), bearerOf(call.metadata), call.request)
          .then((response) => callback(null, response))
          .catch((error) => callback(toServiceError(RelayError.from(error))));
      },
    };
  }
}

/**
 * grpc-js has no public option for the minimum TLS version or the handshake
 * timeout; its secure context options object is what it passes to
 * http2.createSecureServer.
 */
function hardenTls(
  credentials: grpc.ServerCredentials,
  handshakeTimeoutMs: number,
): grpc.ServerCredentials {
  const internal = credentials as unknown as {
    _getSecureContextOptions?: () => Record<string, unknown> | null;
  };
  const options = internal._getSecureContextOptions?.();
  if (!options) {
    throw new RelayError(
      "INTERNAL_ERROR",
      "cannot require TLS 1.3 with this grpc-js",
    );
  }
  options.minVersion = "TLSv1.3";
  options.handshakeTimeout = handshakeTimeoutMs;
  return credentials;
}

function peerOf(call: { getPeer(): string }): Peer {
  return { remoteAddress: call.getPeer(), transport: "h2" };
}

/** Writes each device's result as it completes; a refusal is the status. */
async function streamCallMany(
  call: grpc.ServerWritableStream<CallManyRequest__Output, CallManyResult>,
  core: RelayCore,
): Promise<void> {
  const cancelled = new AbortController();
  call.once("cancelled", () =>
    cancelled.abort(
      new RelayError("CANCELLED", "the caller cancelled CallMany", {
        source: "downstream",
      }),
    ));
  try {
    const results = core.callMany(
      peerOf(call),
      bearerOf(call.metadata),
      call.request,
      cancelled.signal,
    );
    for await (const result of results) {
      if (cancelled.signal.aborted) return;
      if (!call.write(result)) {
        await new Promise((resolve) => {
          call.once("drain", resolve);
          cancelled.signal.addEventListener("abort", resolve, { once: true });
        });
      }
    }
    call.end();
  } catch (error) {
    call.emit("error", toServiceError(RelayError.from(error)));
  }
}
