// The relay's QUIC/WebTransport listener, started by the composition root
// (relay_server.ts) next to the HTTP/2 one.
import type { RelayConfig } from "../config/config_schema.ts";
import {
  formatHostPort,
  isUnspecifiedHost,
  parseHostPort,
} from "../config/host_port.ts";
import { maxMessageBytes } from "../core/input_limits.ts";
import type { RelayCore } from "../core/relay_core.ts";
import type { Logger } from "../observability/logger.ts";
import type { TlsFiles } from "../state/state_dir.ts";
import { QuicRelayServer } from "../../transports/quic/quic_relay_server.ts";
import { udpReceiveBufferAdvice } from "../../transports/quic/udp_receive_buffer.ts";

export interface QuicStart {
  server?: QuicRelayServer;
  /** Bound address for clients ("" when off). */
  address: string;
  /** Why QUIC is off. */
  off: string;
  /** Off although configured on (it could not bind): /health says degraded. */
  failed: boolean;
}

/**
 * QUIC is optional: without TLS, when disabled, or when its UDP port cannot
 * be bound, the relay serves HTTP/2 only (devices fall back to it) and says
 * so in the log and in /health.
 */
export function startQuic(
  config: RelayConfig,
  core: RelayCore,
  tls: TlsFiles | null,
  logger: Logger,
): QuicStart {
  if (!config.relay.quic.enabled) {
    return {
      address: "",
      off: "disabled by relay.quic.enabled",
      failed: false,
    };
  }
  if (tls === null) {
    logger.warn("QUIC is off: it requires TLS (relay.tls.enabled is false)");
    return { address: "", off: "requires TLS", failed: false };
  }
  const quic = config.relay.quic;
  const server = new QuicRelayServer({
    core,
    address: config.relay.quic_address,
    certPem: tls.certPem,
    keyPem: tls.keyPem,
    maxFrameBytes: maxMessageBytes(config),
    idleTimeoutMs: quic.idle_timeout_seconds * 1000,
    keepAliveMs: quic.keep_alive_seconds * 1000,
    maxStreams: quic.max_streams,
    handshakeTimeoutMs: config.relay.session.handshake_timeout_seconds * 1000,
    maxPendingHandshakes: config.relay.session.max_pending_handshakes,
    logger,
  });
  let port: number;
  try {
    port = server.listen();
  } catch (error) {
    const reason = (error as Error).message;
    logger.error("QUIC is off, serving HTTP/2 only", { reason });
    core.metrics.quicListenerUp.set(0);
    return { address: "", off: reason, failed: true };
  }
  core.metrics.quicListenerUp.set(1);
  const advice = udpReceiveBufferAdvice();
  if (advice) {
    logger.warn(
      "QUIC: the kernel's default UDP receive buffer is small; under load it drops datagrams, which QUIC resends late",
      {
        udp_receive_buffer_bytes: advice.bytes,
        recommended_bytes: advice.recommendedBytes,
        fix: advice.fix,
      },
    );
  }
  const { host } = parseHostPort(config.relay.quic_address);
  return {
    server,
    address: formatHostPort(isUnspecifiedHost(host) ? "localhost" : host, port),
    off: "",
    failed: false,
  };
}
