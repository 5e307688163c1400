// The composition root of a running relay: builds the core over the state
// directory, store, JWT keys and audit log, and wires in the concrete
// transports (HTTP/2 gRPC, QUIC), MQTT (presence, publications, tunnels),
// the tunnel service and the health/metrics server. The CLI's `serve` and
// embedders (mod.ts) both start a relay here.
import { hostname } from "node:os";
import { MethodPolicy } from "../auth/access_policy.ts";
import { mintControllerToken } from "../auth/controller_auth.ts";
import { loadJwtKeys } from "../auth/jwt_keys.ts";
import type { RunningRelay } from "../cli/wiring.ts";
import type { RelayConfig } from "../config/config_schema.ts";
import {
  formatHostPort,
  isUnspecifiedHost,
  parseHostPort,
} from "../config/host_port.ts";
import type { PresenceEvent } from "../core/device_registry.ts";
import { maxMessageBytes } from "../core/input_limits.ts";
import { RelayCore } from "../core/relay_core.ts";
import type { BrokerDialer } from "../mqtt/mqtt_ports.ts";
import { RelayMqtt } from "../mqtt/relay_mqtt.ts";
import { TopicAcl } from "../mqtt/topic_acl.ts";
import { mqttTunnelHandler } from "../mqtt/tunnel_mqtt_bridge.ts";
import { openAuditLog } from "../observability/audit_log.ts";
import { certificateExpiryGauge } from "../observability/certificate_expiry.ts";
import { EventLoopLagProbe } from "../observability/event_loop_lag.ts";
import { healthReport } from "../observability/health_report.ts";
import { startHealthServer } from "../observability/health_server.ts";
import { Logger } from "../observability/logger.ts";
import {
  ensureStateDir,
  loadOrCreateJwtSecret,
  loadOrCreateTls,
  writeSecret,
} from "../state/state_dir.ts";
import { openFleetStore } from "../cluster/open_fleet_store.ts";
import { FleetDirectory } from "../cluster/fleet_directory.ts";
import { ClusterRequests } from "../cluster/cluster_requests.ts";
import { directoryPresence } from "../cluster/directory_presence.ts";
import { SharedRateLimits } from "../cluster/shared_rate_limits.ts";
import { RemotePresence } from "../cluster/remote_presence.ts";
import type { FleetStoreChange } from "../store/fleet_store.ts";
import { TunnelService } from "../tunnel/tunnel_service.ts";
import {
  CONSOLE_PREFIX,
  OperatorConsole,
} from "../console/operator_console.ts";
import { GrpcRelayServer } from "../../transports/grpc/grpc_relay_server.ts";
import { PeerRelayChannels } from "../../transports/grpc/peer_relay_channels.ts";
import { browserRoutes } from "../../transports/quic/browser_routes.ts";
import { startQuic } from "./quic_listener.ts";
import { endLongLivedStreamSpans } from "../observability/stream_spans.ts";

const ADMIN_TOKEN_TTL_SECONDS = 30 * 24 * 3600;

export interface StartRelayOptions {
  /** Default: a logger at the config's level and format, on stderr. */
  logger?: Logger;
  /** Told of every presence change of a device (online, state, offline). */
  onPresence?: (event: PresenceEvent) => void;
  /** Broker connections for MQTT tunnels (without one, MQTT tunnels are refused). */
  brokerDialer?: BrokerDialer;
}

/**
 * Starts a relay as `config` says and resolves once it listens (gRPC, QUIC
 * when on, MQTT when on, health when on); a failed step undoes the earlier
 * ones. `shutdown()` on the result drains and stops it.
 */
export async function startRelay(
  config: RelayConfig,
  options: StartRelayOptions = {},
): Promise<RunningRelay> {
  endLongLivedStreamSpans();
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
  // Another relay's revocations end what they name here too (cluster mode).
  let onClusterChange = (_change: FleetStoreChange) => {};
  const fleet = await openFleetStore(
    config,
    paths.database,
    (change) => onClusterChange(change),
  );
  const store = fleet.store;
  // In a cluster: which relay holds which device, for the whole fleet's view.
  const directory = fleet.cluster &&
    await FleetDirectory.open(fleet.cluster.connection, {
      relayId: config.relay.id,
      replicas: config.relay.cluster.replicas,
      relayTtlMs: config.relay.cluster.relay_ttl_seconds * 1000,
    }).catch(async (error) => {
      await fleet.close();
      throw error;
    });
  // Requests for devices other relays hold go there, and theirs come here.
  const clusterRequests = directory &&
    new ClusterRequests(fleet.cluster!.connection, directory, config.relay.id);
  // Transparent calls for devices other relays hold are made again there.
  const peerRelays = clusterRequests && new PeerRelayChannels({
    relayId: config.relay.id,
    caPem: tls?.caPem ?? null,
    liveAddresses: () =>
      clusterRequests.remoteDevices().map((device) =>
        device.relay_address ?? ""
      ),
    sweepIntervalMs: config.relay.cluster.relay_ttl_seconds * 1000,
  });
  // Device publications and MQTT tunnels alike, whether MQTT is on or off.
  const topicAcl = new TopicAcl(config.relay.mqtt.acl);
  // The Drain RPC stops the relay as SIGTERM does (set once it can stop).
  let stopRequested = (_drainTimeoutMs: number) => {};
  // Presence changes into the fleet directory (set once the core exists).
  let toDirectory: ((event: PresenceEvent) => void) | undefined = undefined;
  // ... and into the operator console's live views (set once it exists).
  let toConsole: ((event: PresenceEvent) => void) | undefined = undefined;
  const core = new RelayCore({
    config,
    store,
    jwtKeys,
    audit,
    logger,
    onPresence: (event) => {
      mqtt?.onPresence(event);
      toDirectory?.(event);
      toConsole?.(event);
      options.onPresence?.(event);
    },
    onDrainRequested: (timeoutMs) => stopRequested(timeoutMs),
    ...(clusterRequests ? { fleetView: clusterRequests } : {}),
    ...(peerRelays ? { peerRelays } : {}),
    ...(mqtt !== null ? { publisher: mqtt.publisher } : {}),
    topicPolicy: topicAcl,
    tunnels: (context) => new TunnelService(context),
  });
  onClusterChange = (change) => core.applyClusterChange(change);
  if (tls) certificateExpiryGauge(core.metrics.registry, tls.certPem);
  toDirectory = directory && clusterRequests &&
    directoryPresence(directory, clusterRequests, {
      deviceInfo: (deviceId) => core.deviceInfo(deviceId),
      generation: (deviceId) => core.registry.get(deviceId)?.generation,
    });
  // Per-controller rate limits hold across the cluster, approximately.
  const sharedLimits = fleet.cluster &&
    new SharedRateLimits(
      fleet.cluster.connection,
      config.relay.id,
      core.gate.limits,
      config.relay.cluster.rate_limit_sync_seconds * 1000,
    );
  clusterRequests?.serve(
    (request, signal) => core.deliverForCluster(request, signal),
    (deviceId, connectionId, toRelay) =>
      core.handOver(deviceId, connectionId, toRelay),
  );
  // Transparent gRPC calls: each device call arrives as its own tunnel.
  core.tunnels.register("GRPC_CALL", (tunnel) => core.grpcCalls.attach(tunnel));
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
    () => fleet.close(),
    async () => await directory?.close({ release: true }),
    () => core.registry.close(),
    () => sharedLimits?.close(),
    () => peerRelays?.close(),
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
  const { host } = parseHostPort(config.relay.address);
  const wildcard = isUnspecifiedHost(host);
  core.setAdvertisedAddress(
    formatHostPort(wildcard ? hostname() : host, grpcPort),
  );
  const grpcAddress = formatHostPort(wildcard ? "localhost" : host, grpcPort);
  const relayAddress = config.relay.advertise_address ||
    formatHostPort(wildcard ? hostname() : host, grpcPort);

  const quic = startQuic(config, core, tls, logger);
  if (quic.server) cleanups.push(() => quic.server!.close());

  if (mqtt !== null) {
    cleanups.push(() => mqtt.shutdown());
    await mqtt.start({
      core,
      relayAddress: () => relayAddress,
      // The other relays' devices on this relay's MQTT too.
      ...(directory
        ? {
          remotePresence: new RemotePresence(directory, {
            relayId: config.relay.id,
            relayTtlMs: config.relay.cluster.relay_ttl_seconds * 1000,
          }),
        }
        : {}),
    }).catch(fail);
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
  const operatorConsole = health.enabled && config.observability.console.enabled
    ? new OperatorConsole({
      relayId: config.relay.id,
      auth: core.auth,
      gate: core.gate,
      router: core.router,
      methodPolicy: new MethodPolicy(config.relay.auth.roles),
      localDevices: () => core.localDevices(),
      remoteDevices: () => clusterRequests?.remoteDevices() ?? [],
      deviceProject: (deviceId) =>
        core.registry.get(deviceId)?.project ??
          store.getDevice(deviceId)?.project,
      registry: core.metrics.registry,
      sampleIntervalMs: config.observability.console.sample_interval_seconds *
        1000,
      maxPayloadBytes: config.relay.request.max_payload_bytes,
    })
    : undefined;
  if (operatorConsole) {
    toConsole = (event) => operatorConsole.onPresence(event);
    cleanups.push(() => operatorConsole.close());
  }
  const healthListen = parseHostPort(health.address);
  const healthServer = health.enabled
    ? await startHealthServer({
      hostname: healthListen.host,
      port: healthListen.port,
      healthPath: health.path,
      metrics: core.metrics.registry,
      // The operator console (its page and JSON API, GET and POST).
      ...(operatorConsole
        ? {
          prefixes: {
            [CONSOLE_PREFIX]: (request, info) =>
              operatorConsole.handle(request, info),
          },
        }
        : {}),
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

  // Draining relays send their devices to the addresses announced here.
  // (QUIC on the advertised host, at the port it is bound to).
  await directory?.announce(
    relayAddress,
    quic.address
      ? formatHostPort(
        parseHostPort(relayAddress).host,
        parseHostPort(quic.address).port,
      )
      : "",
  ).catch(fail);

  let stopping: Promise<void> | undefined;
  const stopped = Promise.withResolvers<void>();
  const running: RunningRelay = {
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
    stopped: stopped.promise,
    shutdown(drainTimeoutMs?: number) {
      stopping ??= (async () => {
        // In a cluster, devices move to other relays first (a relay alone
        // or the last one standing goes straight on).
        await core.drain(drainTimeoutMs);
        logger.info("relay shutting down");
        grpc.stopAccepting();
        quic.server?.stopAccepting();
        await core.shutdown();
        // Devices' offline events (relay_shutdown), then the relay's own status.
        await mqtt?.shutdown();
        // Every call is answered or closed by now; idle sockets need no wait.
        await grpc.close(250);
        peerRelays?.close();
        await quic.server?.close();
        lagProbe?.close();
        // Its live streams end first: the server waits for open responses.
        operatorConsole?.close();
        await healthServer?.shutdown();
        clusterRequests?.close();
        sharedLimits?.close();
        // Released: a restart may claim relay.id at once.
        await directory?.close({ release: true });
        await fleet.close();
        logger.info("relay stopped");
        stopped.resolve();
      })();
      return stopping;
    },
  };
  stopRequested = (drainTimeoutMs) => void running.shutdown(drainTimeoutMs);
  return running;
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
