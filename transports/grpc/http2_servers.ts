// grpc-js keeps the node:http2 servers it creates in a private map; the
// relay reaches them for what grpc-js has no server option for (connection
// guard, flow-control windows).
import type * as grpc from "@grpc/grpc-js";
import type { Http2SecureServer, Http2Server } from "node:http2";

/** The HTTP/2 servers grpc-js created for `server` (after bind). */
export function http2ServersOf(
  server: grpc.Server,
): (Http2Server | Http2SecureServer)[] {
  const servers = (server as unknown as {
    http2Servers?: Map<Http2Server | Http2SecureServer, unknown>;
  }).http2Servers;
  if (servers === undefined) {
    throw new Error("grpc-js internals changed: no http2Servers to reach");
  }
  return [...servers.keys()];
}

/**
 * HTTP/2 flow-control windows, announced both ways (the SDK's channels ask
 * for the stream window on the connection too). The protocol default, 64 KiB,
 * is less than one 64 KiB message plus its gRPC header, so every large
 * message waited for a WINDOW_UPDATE from the other process: one stream
 * through the relay did 38 MB/s, and 64-73 MB/s with these windows
 * (`deno run -A bench/fleet/profile_stream.ts h2`). A window is credit, not a
 * buffer: what a peer can make the relay hold stays bounded by the message
 * size limit and the pending-request limits.
 */
export const STREAM_WINDOW_BYTES = 1024 * 1024;
/** Connection-wide window: room for several streams at full speed. */
export const CONNECTION_WINDOW_BYTES = 4 * STREAM_WINDOW_BYTES;

/** Announces the windows above on every connection `server` accepts. */
export function widenFlowControlWindows(server: grpc.Server): void {
  for (const http2Server of http2ServersOf(server)) {
    http2Server.on("session", (session) => {
      // A connection gone by now throws here; it must not take the relay.
      if (session.destroyed || session.closed) return;
      try {
        session.settings({ initialWindowSize: STREAM_WINDOW_BYTES });
        session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
      } catch {
        // The session ended meanwhile: nothing to tune.
      }
    });
  }
}
