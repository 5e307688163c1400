// The relay's handlers of the streams a device opens: its control stream
// (DEVICE_CONNECT) and its tunnels (TUNNEL).
import type { DeviceLink } from "../../src/core/links.ts";
import type { OpenedStream } from "./opened_stream.ts";
import { quicStreamLink } from "./quic_stream_link.ts";
import { relayCodecs } from "./relay_codec.ts";

/** DEVICE_CONNECT: DeviceMessage in, RelayMessage out, for the connection's life. */
export async function serveDeviceStream(
  { core, link: base }: OpenedStream,
): Promise<void> {
  const link = quicStreamLink({
    ...base,
    decode: relayCodecs.deviceMessage,
    encode: relayCodecs.relayMessage,
  });
  // The error travels in-band as RelayMessage.error (QUIC has no status
  // trailer); the core may have sent it already before closing.
  let errorSent = false;
  const deviceLink: DeviceLink = {
    ...link,
    send: (message) => {
      if (message.error) errorSent = true;
      return link.send(message);
    },
    close: (error) =>
      link.close(
        error === undefined || errorSent
          ? undefined
          : { error: { code: error.code, message: error.message } },
      ),
  };
  return await core.acceptDevice(deviceLink);
}

/** TUNNEL: TunnelFrame both ways, on its own stream so a stalled tunnel never holds up another. */
export async function serveTunnelStream(
  { core, link: base }: OpenedStream,
): Promise<void> {
  const link = quicStreamLink({
    ...base,
    decode: relayCodecs.tunnelFrame,
    encode: relayCodecs.tunnelFrame,
  });
  // The core sends the error frame itself; the stream then just ends.
  return await core.acceptTunnel({ ...link, close: () => link.close() });
}
