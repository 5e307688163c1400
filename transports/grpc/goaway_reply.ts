// A client that closes its channel sends GOAWAY, and Deno 2.9.6's node:http2
// answers it by closing the session, which sends the relay's own GOAWAY.
// nghttp2 in Deno can abort the relay process on that reply
// (`find_stream_on_goaway_func: Assertion 'stream->closed_next == NULL'`,
// denoland/deno#36788): measured, 8 of 118 relays died under waves of
// grpc-js channels closing at once (test/goaway_wave_test.ts), none of 60
// relays with the reply left out. The client has said it is leaving, so no
// reply is owed: its open streams still finish, and the connection ends when
// the client closes it. Check again when Deno is upgraded.
import type * as grpc from "@grpc/grpc-js";
import type { ServerHttp2Session } from "node:http2";
import { http2ServersOf } from "./http2_servers.ts";

/** After a client's GOAWAY, `close()` no longer sends one back (after bind). */
export function noGoawayReply(server: grpc.Server): void {
  for (const http2Server of http2ServersOf(server)) {
    http2Server.on("session", (session: ServerHttp2Session) => {
      session.once("goaway", () => {
        // A caller waiting for the close still hears of it.
        session.close = ((callback?: () => void) => {
          if (callback) session.once("close", callback);
        }) as ServerHttp2Session["close"];
      });
    });
  }
}
