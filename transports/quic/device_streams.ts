// The relay's handlers of the streams a device opens: its control stream
// (DEVICE_CONNECT) and its tunnels (TUNNEL). Both carry their errors in band
// (RelayMessage and TunnelFrame `error`), as the last frame before FIN.
import { inBandError } from "../../src/core/links.ts";
import type { OpenedStream } from "./opened_stream.ts";
import { quicStreamLink } from "./quic_stream_link.ts";
import { relayCodecs } from "./relay_codec.ts";

/** DEVICE_CONNECT: DeviceMessage in, RelayMessage out, for the connection's life. */
export async function serveDeviceStream(
  { core, link }: OpenedStream,
): Promise<void> {
  return await core.acceptDevice(quicStreamLink({
    ...link,
    decode: relayCodecs.deviceMessage,
    encode: relayCodecs.relayMessage,
    inBandError,
  }));
}

/** TUNNEL: TunnelFrame both ways, on its own stream so a stalled tunnel never holds up another. */
export async function serveTunnelStream(
  { core, link }: OpenedStream,
): Promise<void> {
  return await core.acceptTunnel(quicStreamLink({
    ...link,
    decode: relayCodecs.tunnelFrame,
    encode: relayCodecs.tunnelFrame,
    inBandError,
  }));
}
