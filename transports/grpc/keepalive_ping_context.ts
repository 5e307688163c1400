// grpc-js's server keepalive re-arms its timer inside each ping's callback,
// and under Deno 2.9 a ping is an AsyncResource whose async context is the
// one ping() was called in: the previous ping's callback. Every ping of a
// connection so stays reachable from the next, about 450 bytes of heap per
// ping for the life of the connection (a relay with 10,000 h2 devices pings
// 167 times a second at the 60 s keepalive: ~270 MB an hour). Running the
// callbacks in the async context of the module's load, which holds nothing,
// ends the chain.
import type * as grpc from "@grpc/grpc-js";
import { AsyncResource } from "node:async_hooks";
import type { ServerHttp2Session } from "node:http2";
import { http2ServersOf } from "./http2_servers.ts";

/** Created at module load, outside any request's or connection's context. */
const ROOT_CONTEXT = new AsyncResource("RELAY_ROOT_CONTEXT");

type PingCallback = (...args: unknown[]) => void;

/** Makes every ping on the connections `server` accepts call back in the root context (after bind). */
export function pingInRootContext(server: grpc.Server): void {
  for (const http2Server of http2ServersOf(server)) {
    http2Server.on("session", (session: ServerHttp2Session) => {
      const ping = session.ping.bind(session) as (
        ...args: unknown[]
      ) => boolean;
      session.ping = ((...args: unknown[]) => {
        const callback = args.at(-1);
        if (typeof callback === "function") {
          args[args.length - 1] = (...results: unknown[]) =>
            ROOT_CONTEXT.runInAsyncScope(
              callback as PingCallback,
              undefined,
              ...results,
            );
        }
        return ping(...args);
      }) as ServerHttp2Session["ping"];
    });
  }
}
