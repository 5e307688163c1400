// The application protocols the relay's QUIC listener speaks.

/** relay.v1 frames on raw QUIC streams (Deno clients). */
export const RELAY_ALPN = "relay.v1";

/** HTTP/3 for WebTransport sessions (browsers), carrying the same frames. */
export const WEBTRANSPORT_ALPN = "h3";
