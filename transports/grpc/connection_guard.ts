// A connection-level defence grpc-js has no option for: connections that
// finish TLS but open no stream within the handshake timeout are closed (the
// TLS handshake itself is bounded by the secure context's handshakeTimeout).
// Blocked source addresses still get their streams refused with a reason,
// so a misconfigured client learns why.
import type * as grpc from "@grpc/grpc-js";
import type {
  Http2SecureServer,
  Http2Server,
  ServerHttp2Session,
} from "node:http2";

export interface ConnectionGuardOptions {
  handshakeTimeoutMs: number;
  onHandshakeTimeout: (remoteAddress: string) => void;
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
    http2Server.on("session", (session: ServerHttp2Session) => {
      const timer = setTimeout(() => {
        options.onHandshakeTimeout(session.socket?.remoteAddress ?? "");
        session.destroy();
      }, options.handshakeTimeoutMs);
      const clear = () => clearTimeout(timer);
      session.once("stream", clear);
      session.once("close", clear);
    });
  }
}
