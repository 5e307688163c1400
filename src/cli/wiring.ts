// What the CLI needs from the composition root (src/compose/, handed over
// by src/main.ts), which alone knows the concrete transports.
import type { RelayConfig } from "../config/config_schema.ts";
import type { RelayCore } from "../core/relay_core.ts";
import type { RelayMqttPorts } from "../mqtt/mqtt_ports.ts";
import type { Logger } from "../observability/logger.ts";
import type { ControllerConnector, DeviceConnector } from "../sdk/connector.ts";
import type { GrpcTarget } from "../sdk/grpc_target.ts";
import type { StatePaths } from "../state/state_dir.ts";
import type { TunnelService } from "../tunnel/tunnel_service.ts";

export interface RunningRelay {
  readonly core: RelayCore<TunnelService>;
  readonly config: RelayConfig;
  readonly paths: StatePaths;
  /** host:port of the gRPC listener as bound (port 0 resolved). */
  readonly grpcAddress: string;
  /** host:port of the QUIC listener as bound, "" when QUIC is off. */
  readonly quicAddress: string;
  /** Bound health port, or 0 when disabled. */
  readonly healthPort: number;
  readonly adminToken: string;
  /** PEM clients should trust, or "" for plaintext. */
  readonly caPem: string;
  /** File holding that PEM for clients ("" when plaintext or not configured). */
  readonly caPath: string;
  /** Presence publishing and broker connections; absent when relay.mqtt.enabled is false. */
  readonly mqtt?: RelayMqttPorts;
  /**
   * Drains (in a cluster: devices move to other relays, for at most
   * `drainTimeoutMs`, default relay.cluster.drain_timeout_seconds) and stops.
   */
  shutdown(drainTimeoutMs?: number): Promise<void>;
  /** Resolves once the relay has stopped, whoever stopped it (e.g. `relay drain`). */
  readonly stopped: Promise<void>;
}

/** "auto": QUIC first with HTTP/2 fallback (devices only). */
export type TransportChoice = "auto" | "quic" | "h2";

export interface ClientTransportOptions {
  /** host:port of the relay's gRPC listener. */
  address: string;
  /** host:port of the relay's QUIC listener (default: the gRPC host, port 50052). */
  quicAddress?: string;
  /** Default "h2" for controllers, "auto" for devices. */
  transport?: TransportChoice;
  /** "auto": how long QUIC runs alone before HTTP/2 starts too (default 300 ms). */
  headStartMs?: number;
  /** "auto": how often a device on HTTP/2 probes QUIC to move back (default 30 s). */
  probeIntervalMs?: number;
  /** QUIC handshake timeout (default 5 s). */
  quicConnectTimeoutMs?: number;
  /**
   * UDP endpoint QUIC dials from, shared by many connectors (a gateway
   * hosting many devices); the caller closes it. Default: one per connector.
   */
  quicEndpoint?: Deno.QuicEndpoint;
  caPem?: string;
  insecure?: boolean;
  /** TLS server name when it differs from the host in `address`. */
  serverName?: string;
  /** Largest message the client sends or accepts (default 8 MiB). */
  maxMessageBytes?: number;
}

export interface CliWiring {
  startRelay(config: RelayConfig, logger: Logger): Promise<RunningRelay>;
  deviceConnector(options: ClientTransportOptions): DeviceConnector;
  controllerConnector(options: ClientTransportOptions): ControllerConnector;
  /** The device's own gRPC server, for transparent calls. */
  grpcTarget(options: GrpcTargetAddress): GrpcTarget;
}

export interface GrpcTargetAddress {
  /** host:port; plaintext unless caPem or serverName is set. */
  address: string;
  caPem?: string;
  serverName?: string;
}
