// Which handler serves a relay.v1 stream, by the kind its StreamOpen names.
import type { StreamKind__Output } from "../../src/gen/relay/v1/StreamKind.ts";
import {
  refuseUnknownStream,
  serveControllerSession,
  serveListOnlineDevices,
  serveRevokeToken,
} from "./controller_streams.ts";
import { serveDeviceStream, serveTunnelStream } from "./device_streams.ts";
import type { OpenedStream } from "./opened_stream.ts";

export type StreamHandler = (stream: OpenedStream) => Promise<void> | void;

const HANDLERS: Record<
  Exclude<StreamKind__Output, "STREAM_KIND_UNSPECIFIED">,
  StreamHandler
> = {
  DEVICE_CONNECT: serveDeviceStream,
  TUNNEL: serveTunnelStream,
  CONNECT_TO_DEVICE: serveControllerSession,
  LIST_ONLINE_DEVICES: serveListOnlineDevices,
  REVOKE_TOKEN: serveRevokeToken,
};

/** The handler of `kind`; an unspecified or unknown kind is refused. */
export function handlerFor(kind: StreamKind__Output | number): StreamHandler {
  return Object.hasOwn(HANDLERS, kind)
    ? HANDLERS[kind as keyof typeof HANDLERS]
    : refuseUnknownStream;
}
