// A connection-level defence grpc-js has no option for: connections that
// finish TLS but open no stream within the handshake timeout are closed (the
// TLS handshake itself is bounded by the secure context's handshakeTimeout).
// Blocked source addresses still get their streams refused with a reason,
// so a misconfigured client learns why.
import type * as grpc from "@grpc/grpc-js";
import type { Socket } from "node:net";
import type { HandshakeAdmission } from "../../src/limits/handshake_admission.ts";
import type { ServerHttp2Session } from "node:http2";
import { http2ServersOf } from "./http2_servers.ts";

export interface ConnectionGuardOptions {
  handshakeTimeoutMs: number;
  onHandshakeTimeout: (remoteAddress: string) => void;
  /** A TLS handshake that failed or ran past its timeout. */
  onTlsFailure: (remoteAddress: string, reason: string) => void;
  /** Bounds the connections in their TLS handshake; past it they are closed at once. */
  admission: HandshakeAdmission;
}

/** Installs the guard on every HTTP/2 server grpc-js created for `server` (after bind). */
export function guardConnections(
  server: grpc.Server,
  options: ConnectionGuardOptions,
): void {
  for (const http2Server of http2ServersOf(server)) {
    // Each connection by peer address: its socket (the TLS one once TLS is
    // done) and, until its HTTP/2 session starts, its handshake place.
    const connections = new Map<
      string,
      { socket: Socket; releaseHandshake: () => void }
    >();
    http2Server.on("connection", (socket: Socket) => {
      const releaseHandshake = options.admission.admit();
      if (releaseHandshake === undefined) {
        socket.destroy();
        return;
      }
      const key = peerKey(socket);
      const entry = { socket, releaseHandshake };
      connections.set(key, entry);
      socket.once("close", () => {
        releaseHandshake();
        if (connections.get(key) === entry) connections.delete(key);
      });
    });
    http2Server.on("tlsClientError", (error: Error, socket: Socket) => {
      const reason = (error as { code?: string }).code ?? error.message;
      options.onTlsFailure(socket.remoteAddress ?? "", reason);
    });
    http2Server.on("secureConnection", (socket: Socket) => {
      const entry = connections.get(peerKey(socket));
      if (entry) entry.socket = socket;
    });
    http2Server.on("session", (session: ServerHttp2Session) => {
      const entry = session.socket
        ? connections.get(peerKey(session.socket))
        : undefined;
      entry?.releaseHandshake();
      const timer = setTimeout(() => {
        options.onHandshakeTimeout(session.socket?.remoteAddress ?? "");
        // Closing the session would send GOAWAY, and Deno 2.9's nghttp2 can
        // crash the client process that receives one (denoland/deno#36788):
        // destroying the socket ends the connection without a frame.
        if (entry) entry.socket.destroy();
        else session.destroy();
      }, options.handshakeTimeoutMs);
      const clear = () => clearTimeout(timer);
      session.once("stream", clear);
      session.once("close", clear);
    });
  }
}

function peerKey(socket: Pick<Socket, "remoteAddress" | "remotePort">) {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}
