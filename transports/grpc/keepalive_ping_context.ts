// grpc-js re-arms its keepalive timer inside each ping's callback (server and
// client alike), and under Deno 2.9 a ping is an AsyncResource whose async
// context is the one ping() was called in: the previous ping's callback.
// Every ping of a connection so stays reachable from the next, about 450-550
// bytes of heap per ping for the life of the connection (a relay with 10,000
// h2 devices pings 167 times a second at the 60 s keepalive: ~270 MB an hour;
// a device pinging every 30 s: ~1.5 MB a day). Running the callbacks in the
// async context of the module's load, which holds nothing, ends the chain.
import { AsyncResource } from "node:async_hooks";
import * as http2 from "node:http2";

/** Created at module load, outside any request's or connection's context. */
const ROOT_CONTEXT = new AsyncResource("RELAY_ROOT_CONTEXT");

type Ping = (...args: unknown[]) => boolean;
type PingCallback = (...args: unknown[]) => void;

/**
 * Where server and client sessions find `ping` (Deno's node:http2 exports
 * the class; Node's typings declare it as an interface only).
 */
export const http2SessionPrototype = (http2 as unknown as {
  Http2Session: { prototype: { ping: Ping } };
}).Http2Session.prototype;
const prototype = http2SessionPrototype;
const contextualPing: Ping = prototype.ping;

function rootContextPing(this: unknown, ...args: unknown[]): boolean {
  const callback = args.at(-1);
  if (typeof callback === "function") {
    args[args.length - 1] = (...results: unknown[]) =>
      ROOT_CONTEXT.runInAsyncScope(
        callback as PingCallback,
        undefined,
        ...results,
      );
  }
  return contextualPing.apply(this, args);
}

/**
 * Makes every HTTP/2 ping in this process (relay server and SDK clients) call
 * back in the root context. Idempotent; returns the undo (for the test that
 * measures the chain).
 */
export function pingInRootContext(): () => void {
  prototype.ping = rootContextPing;
  return () => {
    prototype.ping = contextualPing;
  };
}
