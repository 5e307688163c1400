// Composition root: the only module that wires concrete transports into the
// core and the SDKs. Run it for the CLI (`deno task relay ...`), or import
// it to embed a relay, a device agent or a controller client.
import { hostname } from "node:os";
import { mintControllerToken } from "./auth/controller_auth.ts";
import { runCli } from "./cli/cli.ts";
import type {
  ClientTransportOptions,
  CliWiring,
  RunningRelay,
} from "./cli/wiring.ts";
import type { RelayConfig } from "./config/config_schema.ts";
import { RelayCore } from "./core/relay_core.ts";
import type { PresenceEvent } from "./core/device_registry.ts";
import { startHealthServer } from "./observability/health_server.ts";
import { Logger } from "./observability/logger.ts";
import type { ControllerConnector, DeviceConnector } from "./sdk/connector.ts";
import {
  ensureStateDir,
  loadOrCreateJwtSecret,
  loadOrCreateTls,
  writeSecret,
} from "./state/state_dir.ts";
import { RelayStore } from "./store/relay_store.ts";
import { GrpcRelayServer } from "../transports/grpc/grpc_relay_server.ts";
import {
  grpcControllerConnector,
  grpcDeviceConnector,
} from "../transports/grpc/grpc_connectors.ts";

export { buildConfig, loadConfig } from "./config/load_config.ts";
export { DeviceAgent, echoHandler } from "./sdk/device_agent.ts";
export { ControllerClient } from "./sdk/controller_client.ts";
export { RelayError } from "./errors/relay_error.ts";
export type { RunningRelay } from "./cli/wiring.ts";

const VERSION = "0.1.0";
const ADMIN_TOKEN_TTL_SECONDS = 30 * 24 * 3600;

export interface StartRelayOptions {
  logger?: Logger;
  onPresence?: (event: PresenceEvent) => void;
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
  const store = new RelayStore(paths.database);
  const core = new RelayCore({
    config,
    store,
    jwtSecret,
    logger,
    ...(options.onPresence ? { onPresence: options.onPresence } : {}),
  });
  const grpc = new GrpcRelayServer({
    core,
    address: config.relay.address,
    tls,
    maxPayloadBytes: config.relay.request.max_payload_bytes,
    logger,
  });
  const startedAt = Date.now();
  let grpcPort: number;
  try {
    grpcPort = await grpc.listen();
  } catch (error) {
    core.registry.close();
    store.close();
    throw error;
  }
  const host = config.relay.address.replace(/:\d+$/, "");
  const wildcard = host === "0.0.0.0" || host === "[::]";
  core.setAdvertisedAddress(`${wildcard ? hostname() : host}:${grpcPort}`);
  const grpcAddress = `${wildcard ? "localhost" : host}:${grpcPort}`;

  const adminToken = await mintControllerToken({
    secret: jwtSecret,
    issuer: config.relay.auth.jwt.issuer,
    audience: config.relay.auth.jwt.audience,
    clockSkewSeconds: config.relay.auth.jwt.clock_skew_seconds,
  }, {
    controllerId: "admin",
    role: "admin",
    ttlSeconds: ADMIN_TOKEN_TTL_SECONDS,
  });
  await writeSecret(paths.adminToken, adminToken + "\n");

  const health = config.observability.health;
  const healthServer = health.enabled
    ? await startHealthServer({
      hostname: health.address.replace(/:\d+$/, "").replace(/^\[|\]$/g, ""),
      port: Number(health.address.match(/:(\d+)$/)?.[1]),
      healthPath: health.path,
      metrics: core.metrics.registry,
      report: () => {
        const draining = core.draining;
        const devices = core.registry.list();
        return {
          status: draining ? "unhealthy" : "healthy",
          relay_id: config.relay.id,
          version: VERSION,
          uptime_seconds: Math.floor((Date.now() - startedAt) / 1000),
          components: {
            grpc_server: {
              status: draining ? "unhealthy" : "healthy",
              message: draining
                ? "draining"
                : `listening on ${config.relay.address} (${
                  tls ? "TLS" : "plaintext"
                })`,
            },
            store: { status: "healthy", message: paths.database },
            auth: { status: "healthy", message: "HS256 JWT" },
          },
          metrics: {
            devices_connected: devices.filter((d) => d.link !== null).length,
            devices_resumable: devices.filter((d) => d.link === null).length,
            in_flight_requests: core.router.inFlight,
          },
        };
      },
    }).catch(async (error) => {
      await grpc.close(0);
      core.registry.close();
      store.close();
      throw error;
    })
    : undefined;

  logger.info("relay started", {
    relay_id: config.relay.id,
    grpc: grpcAddress,
    tls: tls !== null,
    health_port: healthServer?.port ?? 0,
    state_dir: paths.dir,
  });

  let stopping: Promise<void> | undefined;
  return {
    core,
    config,
    paths,
    grpcAddress,
    healthPort: healthServer?.port ?? 0,
    adminToken,
    caPem: tls?.caPem ?? "",
    caPath: tls === null
      ? ""
      : config.relay.tls.cert_path === ""
      ? paths.caCert
      : config.relay.tls.ca_path,
    shutdown() {
      stopping ??= (async () => {
        logger.info("relay shutting down");
        grpc.stopAccepting();
        await core.shutdown();
        // Every call is answered or closed by now; idle sockets need no wait.
        await grpc.close(250);
        await healthServer?.shutdown();
        store.close();
        logger.info("relay stopped");
      })();
      return stopping;
    },
  };
}

export function deviceConnector(
  options: ClientTransportOptions,
): DeviceConnector {
  return grpcDeviceConnector(options);
}

export function controllerConnector(
  options: ClientTransportOptions,
): ControllerConnector {
  return grpcControllerConnector(options);
}

export const wiring: CliWiring = {
  startRelay: (config, logger) => startRelay(config, { logger }),
  deviceConnector,
  controllerConnector,
};

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args, wiring));
}
