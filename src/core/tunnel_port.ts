// The tunnel port: the service that serves tunnel streams (ordered raw byte
// streams a device opens next to its request stream, e.g. MQTT sessions).
// The composition root builds it (src/tunnel/tunnel_service.ts) from what
// the core gives it; the core hands it the transports' tunnel links, ends a
// device's tunnels when its credential is revoked and all of them at
// shutdown.
import type { RelayError } from "../errors/relay_error.ts";
import type { RelayMetrics } from "../observability/relay_metrics.ts";
import type { DeviceHandshakeDeps } from "./device_handshake.ts";
import type { TunnelLink } from "./links.ts";

export interface TunnelPort {
  /** Serves one tunnel stream until it ends (refusals included). */
  accept(link: TunnelLink): Promise<void>;
  /** Ends every tunnel of a device (its credential was revoked); returns how many. */
  closeDevice(deviceId: string, error: RelayError): number;
  /** Ends every tunnel and waits (bounded) until their streams are closed. */
  closeAll(error: RelayError): Promise<void>;
}

/**
 * What the core gives the tunnel service: what the device handshake needs
 * (admission, credentials, the handshake timeout, drain state), and metrics.
 */
export interface TunnelContext extends DeviceHandshakeDeps {
  metrics: RelayMetrics;
}
