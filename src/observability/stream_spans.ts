// Deno's node:http2 instrumentation gives every HTTP/2 stream a span that ends
// with the stream, and cannot be switched off per stream. A device's session
// stream and a controller's stream live for hours: such a span would say
// nothing but "connected" and arrive when the session ends. So the spans of
// these streams end as soon as the stream opens, marked as such; requests on
// them get spans of their own (tracing.ts). Deno publishes each new stream on
// node's http2 diagnostics channels, its span already attached.
import diagnostics from "node:diagnostics_channel";
import { tracingOn } from "./tracing.ts";

/** relay.v1 streams that carry a session, not one call. */
const LONG_LIVED_PATHS = new Set([
  "/relay.v1.RelayService/DeviceConnect",
  "/relay.v1.RelayService/ConnectToDevice",
  "/relay.v1.RelayService/OpenTunnel",
]);

interface EndableSpan {
  setAttribute(key: string, value: string): unknown;
  end(): void;
}

let installed = false;

/** Ends long-lived streams' spans at open, on both ends; once per process. */
export function endLongLivedStreamSpans(): void {
  if (!tracingOn || installed) return;
  installed = true;
  for (const side of ["client", "server"]) {
    diagnostics.subscribe(`http2.${side}.stream.created`, (message) => {
      const { stream, headers } = message as {
        stream: object;
        headers?: Record<string, unknown>;
      };
      const path = headers?.[":path"];
      if (typeof path === "string" && LONG_LIVED_PATHS.has(path)) {
        endStreamSpan(stream);
      }
    });
  }
}

function endStreamSpan(stream: object): void {
  const key = Object.getOwnPropertySymbols(stream).find((symbol) =>
    symbol.description === "kOtelSpan"
  );
  const span = key === undefined
    ? undefined
    : (stream as Record<symbol, EndableSpan | undefined>)[key];
  if (key === undefined || span === undefined) return;
  span.setAttribute("relay.stream", "long-lived: span ends at stream open");
  span.end();
  (stream as Record<symbol, unknown>)[key] = undefined;
}
