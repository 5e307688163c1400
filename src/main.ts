// Composition root: the only module that wires concrete transports into the
// core and the SDKs. Run it for the CLI (`deno task relay ...`), or import
// it to embed a relay, a device agent or a controller client.
import { hostname } from "node:os";
import { mintControllerToken } from "./auth/controller_auth.ts";
import { loadJwtKeys } from "./auth/jwt_keys.ts";
import { openAuditLog } from "./observability/audit_log.ts";
import { maxMessageBytes } from "./core/input_limits.ts";
import { runCli } from "./cli/cli.ts";
import type {
  ClientTransportOptions,
  CliWiring,
  RunningRelay,
} from "./cli/wiring.ts";
import type { RelayConfig } from "./config/config_schema.ts";
import { RelayCore } from "./core/relay_core.ts";
import type { PresenceEvent } from "./core/device_registry.ts";
import { EventLoopLagProbe } from "./observability/event_loop_lag.ts";
import { startHealthServer } from "./observability/health_server.ts";
import { healthReport } from "./observability/health_report.ts";
import { RelayMqtt } from "./mqtt/relay_mqtt.ts";
import { Logger } from "./observability/logger.ts";
import type { ControllerConnector, DeviceConnector } from "./sdk/connector.ts";
import {
  ensureStateDir,
  loadOrCreateJwtSecret,
  loadOrCreateTls,
  type TlsFiles,
  writeSecret,
} from "./state/state_dir.ts";
import { RelayStore } from "./store/relay_store.ts";
import { GrpcRelayServer } from "../transports/grpc/grpc_relay_server.ts";
import { QuicRelayServer } from "../transports/quic/quic_relay_server.ts";
import { browserRoutes } from "../transports/quic/browser_routes.ts";
import { udpReceiveBufferAdvice } from "../transports/quic/udp_receive_buffer.ts";
import {
  grpcControllerConnector,
  grpcDeviceConnector,
} from "../transports/grpc/grpc_connectors.ts";
import {
  quicControllerConnector,
  quicDeviceConnector,
} from "../transports/quic/quic_connectors.ts";
import { happyEyeballsConnector } from "./sdk/happy_eyeballs_connector.ts";
import type { BrokerDialer } from "./mqtt/mqtt_ports.ts";
import { TopicAcl } from "./mqtt/topic_acl.ts";
import { mqttTunnelHandler } from "./mqtt/tunnel_mqtt_bridge.ts";
import { TunnelService } from "./tunnel/tunnel_service.ts";

export { buildConfig, loadConfig } from "./config/load_config.ts";
export { DeviceAgent, echoHandler } from "./sdk/device_agent.ts";
export { MqttTunnelListener } from "./sdk/mqtt_tunnel_listener.ts";
export { ControllerClient } from "./sdk/controller_client.ts";
export { RelayError } from "./errors/relay_error.ts";
export type { RunningRelay } from "./cli/wiring.ts";

const DEFAULT_QUIC_PORT = 50052;
const ADMIN_TOKEN_TTL_SECONDS = 30 * 24 * 3600;

export interface StartRelayOptions {
  logger?: Logger;
  onPresence?: (event: PresenceEvent) => void;
  /** Broker connections for MQTT tunnels (without one, MQTT tunnels are refused). */
  brokerDialer?: BrokerDialer;
}

export async function startRelay(
  config: RelayConfig,
  options: StartRelayOptions = {},
): Promise<RunningRelay> {
  const logger = options.logger ??
    new Logger({
      level: config.observability.logging.level,
      format: config.observability.logging.format,
    });
  const paths = await ensureStateDir(config.relay.state_dir);
  const tls = config.relay.tls.enabled
    ? await loadOrCreateTls(config, paths)
    : null;
  const jwtSecret = await loadOrCreateJwtSecret(config, paths);
  const jwtKeys = await loadJwtKeys(config.relay.auth.jwt, jwtSecret);
  // Presence, relay status and telemetry over MQTT (null when disabled).
  const mqtt = await RelayMqtt.create(config, logger);
  const audit = await openAuditLog({
    enabled: config.relay.audit.enabled,
    path: config.relay.audit.path || paths.auditLog,
  });
  const store = new RelayStore(paths.database);
  // Device publications and MQTT tunnels alike, whether MQTT is on or off.
  const topicAcl = new TopicAcl(config.relay.mqtt.acl);
  const core = new RelayCore({
    config,
    store,
    jwtKeys,
    audit,
    logger,
    onPresence: (event) => {
      mqtt?.onPresence(event);
      options.onPresence?.(event);
    },
    ...(mqtt !== null ? { publisher: mqtt.publisher } : {}),
    topicPolicy: topicAcl,
    tunnels: (context) => new TunnelService(context),
  });
  // MQTT tunnels reach the relay's own broker unless a dialer is given.
  const brokerDialer = options.brokerDialer ?? mqtt?.dialer;
  if (brokerDialer) {
    serveMqttTunnels(core, config, {
      dialer: brokerDialer,
      acl: topicAcl,
      logger,
    });
  }
  // Undone in reverse order if a later step fails.
  const cleanups: (() => Promise<void> | void)[] = [
    () => audit.close(),
    () => store.close(),
    () => core.registry.close(),
  ];
  const fail = async (error: unknown): Promise<never> => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    throw error;
  };

  const grpc = new GrpcRelayServer({
    core,
    address: config.relay.address,
    tls,
    maxMessageBytes: maxMessageBytes(config),
    handshakeTimeoutMs: config.relay.session.handshake_timeout_seconds * 1000,
    maxPendingHandshakes: config.relay.session.max_pending_handshakes,
    logger,
  });
  const grpcPort = await grpc.listen().catch(fail);
  cleanups.push(() => grpc.close(0));
  const host = config.relay.address.replace(/:\d+$/, "");
  const wildcard = host === "0.0.0.0" || host === "[::]";
  core.setAdvertisedAddress(`${wildcard ? hostname() : host}:${grpcPort}`);
  const grpcAddress = `${wildcard ? "localhost" : host}:${grpcPort}`;
  const relayAddress = config.relay.advertise_address ||
    `${wildcard ? hostname() : host}:${grpcPort}`;

  const quic = startQuic(config, core, tls, logger);
  if (quic.server) cleanups.push(() => quic.server!.close());

  if (mqtt !== null) {
    cleanups.push(() => mqtt.shutdown());
    await mqtt.start({ core, relayAddress: () => relayAddress }).catch(fail);
  }

  const adminToken = await mintControllerToken({
    secret: jwtSecret,
    issuer: config.relay.auth.jwt.issuer,
    audience: config.relay.auth.jwt.audience,
    clockSkewSeconds: config.relay.auth.jwt.clock_skew_seconds,
  }, {
    controllerId: "admin",
    role: "admin",
    ttlSeconds: ADMIN_TOKEN_TTL_SECONDS,
  })
    .catch(fail);
  await writeSecret(paths.adminToken, adminToken + "\n").catch(fail);

  const startedAt = Date.now();
  const health = config.observability.health;
  const healthServer = health.enabled
    ? await startHealthServer({
      hostname: health.address.replace(/:\d+$/, "").replace(/^\[|\]$/g, ""),
      port: Number(health.address.match(/:(\d+)$/)?.[1]),
      healthPath: health.path,
      metrics: core.metrics.registry,
      // The WebTransport demo page and browser client (when QUIC listens).
      ...(quic.address && tls
        ? {
          routes: browserRoutes({
            quicAddress: quic.address,
            serverCertPem: tls.certPem,
          }),
        }
        : {}),
      report: () =>
        healthReport({
          draining: core.draining,
          devices: core.registry.list().map((session) => ({
            transport: session.transport,
            connected: session.link !== null,
          })),
          inFlightRequests: core.router.inFlight,
          config,
          startedAt,
          tls: tls !== null,
          quic: quic.address
            ? { listening: quic.address }
            : { off: quic.off, failed: quic.failed },
          databasePath: paths.database,
          mqtt: mqtt?.health() ?? { off: "disabled by relay.mqtt.enabled" },
        }),
    }).catch(fail)
    : undefined;
  // Only worth its timer where /metrics is served.
  const lagProbe = healthServer
    ? new EventLoopLagProbe((seconds) =>
      core.metrics.eventLoopLag.observe(seconds)
    )
    : undefined;

  logger.info("relay started", {
    relay_id: config.relay.id,
    grpc: grpcAddress,
    quic: quic.address || `off (${quic.off})`,
    tls: tls !== null,
    health_port: healthServer?.port ?? 0,
    mqtt: mqtt === null ? "off" : mqtt.brokerUrl || "in process only",
    state_dir: paths.dir,
  });

  let stopping: Promise<void> | undefined;
  return {
    core,
    config,
    paths,
    grpcAddress,
    quicAddress: quic.address,
    healthPort: healthServer?.port ?? 0,
    adminToken,
    caPem: tls?.caPem ?? "",
    ...(mqtt !== null ? { mqtt } : {}),
    caPath: tls === null
      ? ""
      : config.relay.tls.cert_path === ""
      ? paths.caCert
      : config.relay.tls.ca_path,
    shutdown() {
      stopping ??= (async () => {
        logger.info("relay shutting down");
        grpc.stopAccepting();
        quic.server?.stopAccepting();
        await core.shutdown();
        // Devices' offline events (relay_shutdown), then the relay's own status.
        await mqtt?.shutdown();
        // Every call is answered or closed by now; idle sockets need no wait.
        await grpc.close(250);
        await quic.server?.close();
        lagProbe?.close();
        await healthServer?.shutdown();
        store.close();
        logger.info("relay stopped");
      })();
      return stopping;
    },
  };
}

/** MQTT tunnels: client sessions bridged to the broker under the topic ACL. */
function serveMqttTunnels(
  core: RelayCore<TunnelService>,
  config: RelayConfig,
  { dialer, acl, logger }: {
    dialer: BrokerDialer;
    acl: TopicAcl;
    logger: Logger;
  },
): void {
  const mqtt = config.relay.mqtt;
  core.tunnels.register(
    "MQTT",
    mqttTunnelHandler({
      dialer,
      acl,
      maxPacketBytes: maxMessageBytes(config),
      ...(mqtt.username !== ""
        ? {
          brokerCredentials: {
            username: mqtt.username,
            password: mqtt.password,
          },
        }
        : {}),
      logger,
      registry: core.metrics.registry,
      connectTimeoutMs: config.relay.session.handshake_timeout_seconds * 1000,
    }),
  );
}

interface QuicStart {
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
function startQuic(
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
  const host = config.relay.quic_address.replace(/:\d+$/, "");
  const wildcard = host === "0.0.0.0" || host === "[::]";
  return {
    server,
    address: `${wildcard ? "localhost" : host}:${port}`,
    off: "",
    failed: false,
  };
}

/** The device side: QUIC first with HTTP/2 fallback unless `transport` says otherwise. */
export function deviceConnector(
  options: ClientTransportOptions,
): DeviceConnector {
  const transport = options.transport ?? "auto";
  if (transport === "h2") return grpcDeviceConnector(options);
  const quic = quicDeviceConnector(quicOptions(options));
  if (transport === "quic") return quic;
  return happyEyeballsConnector(quic, grpcDeviceConnector(options), {
    ...(options.headStartMs !== undefined
      ? { headStartMs: options.headStartMs }
      : {}),
    ...(options.probeIntervalMs !== undefined
      ? { probeIntervalMs: options.probeIntervalMs }
      : {}),
  });
}

/** The controller side: HTTP/2 gRPC unless `transport` is "quic". */
export function controllerConnector(
  options: ClientTransportOptions,
): ControllerConnector {
  return options.transport === "quic"
    ? quicControllerConnector(quicOptions(options))
    : grpcControllerConnector(options);
}

function quicOptions(options: ClientTransportOptions) {
  const host = options.address.replace(/:\d+$/, "");
  return {
    ...options,
    address: options.quicAddress ?? `${host}:${DEFAULT_QUIC_PORT}`,
    ...(options.quicConnectTimeoutMs !== undefined
      ? { connectTimeoutMs: options.quicConnectTimeoutMs }
      : {}),
    ...(options.quicEndpoint ? { endpoint: options.quicEndpoint } : {}),
  };
}

export const wiring: CliWiring = {
  startRelay: (config, logger) => startRelay(config, { logger }),
  deviceConnector,
  controllerConnector,
};

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args, wiring));
}
