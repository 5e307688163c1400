// A connection-level defence grpc-js has no option for: connections that
// finish TLS but open no stream within the handshake timeout are closed (the
// TLS handshake itself is bounded by the secure context's handshakeTimeout).
// Blocked source addresses still get their streams refused with a reason,
// so a misconfigured client learns why.
import type * as grpc from "@grpc/grpc-js";
import type { Socket } from "node:net";
import type { HandshakeAdmission } from "../../src/limits/handshake_admission.ts";
import type {
  Http2SecureServer,
  Http2Server,
  ServerHttp2Session,
} from "node:http2";

export interface ConnectionGuardOptions {
  handshakeTimeoutMs: number;
  onHandshakeTimeout: (remoteAddress: string) => void;
  /** Bounds the connections in their TLS handshake; past it they are closed at once. */
  admission: HandshakeAdmission;
}

/** Installs the guard on every HTTP/2 server grpc-js created for `server` (after bind). */
export function guardConnections(
  server: grpc.Server,
  options: ConnectionGuardOptions,
): void {
  // grpc-js keeps its node:http2 servers in a private map; there is no public hook.
  const servers = (server as unknown as {
    http2Servers?: Map<Http2Server | Http2SecureServer, unknown>;
  }).http2Servers;
  if (servers === undefined) {
    throw new Error("grpc-js internals changed: no http2Servers to guard");
  }
  for (const http2Server of servers.keys()) {
    // Closing a session sends GOAWAY, and Deno 2.9's nghttp2 can crash the
    // client process that receives one (denoland/deno#36788). Destroying the
    // socket instead ends the connection without a frame.
    const sockets = new Map<string, Socket>();
    const track = (socket: Socket) => {
      const key = peerKey(socket);
      sockets.set(key, socket);
      socket.once("close", () => {
        if (sockets.get(key) === socket) sockets.delete(key);
      });
    };
    // Until its HTTP/2 session starts (TLS done), a connection holds a
    // handshake place.
    const handshakes = new Map<string, () => void>();
    http2Server.on("connection", (socket: Socket) => {
      const release = options.admission.admit();
      if (release === undefined) {
        socket.destroy();
        return;
      }
      const key = peerKey(socket);
      handshakes.set(key, release);
      socket.once("close", () => {
        release();
        if (handshakes.get(key) === release) handshakes.delete(key);
      });
      track(socket);
    });
    http2Server.on("secureConnection", track);
    http2Server.on("session", (session: ServerHttp2Session) => {
      if (session.socket) {
        const key = peerKey(session.socket);
        handshakes.get(key)?.();
        handshakes.delete(key);
      }
      const timer = setTimeout(() => {
        options.onHandshakeTimeout(session.socket?.remoteAddress ?? "");
        const socket = session.socket
          ? sockets.get(peerKey(session.socket))
          : undefined;
        if (socket) socket.destroy();
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
