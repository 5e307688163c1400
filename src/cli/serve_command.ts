// `relay serve`: run the relay until SIGINT/SIGTERM, then shut down gracefully.
import { loadConfig } from "../config/load_config.ts";
import { Logger } from "../observability/logger.ts";
import { parseFlags, stringFlag } from "./cli_args.ts";
import type { CliWiring } from "./wiring.ts";

export const SERVE_USAGE = `relay serve [options]
  --config FILE          YAML config (keys: docs/config.md)
  --state-dir DIR        state directory (default .relay, env RELAY_STATE_DIR)
  --address HOST:PORT    gRPC listener (relay.address, default 0.0.0.0:50051)
  --quic-address H:P     QUIC listener, UDP (relay.quic_address, default 0.0.0.0:50052)
  --health-address H:P   health and metrics (observability.health.address)
  --relay-id ID          relay.id
  --log-level LEVEL      debug | info | warn | error
  --insecure-plaintext   serve without TLS (development only)`;

export async function serveCommand(
  args: string[],
  wiring: CliWiring,
): Promise<number> {
  const parsed = parseFlags(args, {
    config: { type: "string" },
    "state-dir": { type: "string" },
    address: { type: "string" },
    "quic-address": { type: "string" },
    "health-address": { type: "string" },
    "relay-id": { type: "string" },
    "log-level": { type: "string" },
    "insecure-plaintext": { type: "boolean" },
  });
  const configPath = stringFlag(parsed, "config");
  const config = await loadConfig({
    ...(configPath ? { path: configPath } : {}),
    overrides: {
      "relay.state_dir": stringFlag(parsed, "state-dir"),
      "relay.address": stringFlag(parsed, "address"),
      "relay.quic_address": stringFlag(parsed, "quic-address"),
      "relay.id": stringFlag(parsed, "relay-id"),
      "observability.health.address": stringFlag(parsed, "health-address"),
      "observability.logging.level": stringFlag(parsed, "log-level"),
      "relay.tls.enabled": parsed.values["insecure-plaintext"] === true
        ? false
        : undefined,
    },
  });
  const logger = new Logger({
    level: config.observability.logging.level,
    format: config.observability.logging.format,
  });
  if (!config.relay.tls.enabled) {
    logger.warn("TLS is disabled: traffic is plaintext");
  }
  const relay = await wiring.startRelay(config, logger);
  console.error(
    [
      `relay ${config.relay.id} listening on ${relay.grpcAddress} (${
        config.relay.tls.enabled ? "TLS" : "plaintext"
      })`,
      relay.quicAddress ? `QUIC (UDP) on ${relay.quicAddress}` : "QUIC: off",
      relay.healthPort
        ? `health: http://localhost:${relay.healthPort}${config.observability.health.path}  metrics: http://localhost:${relay.healthPort}/metrics`
        : "health: disabled",
      relay.mqtt
        ? `MQTT: ${
          relay.mqtt.brokerUrl ||
          "embedded broker in process only (see /health)"
        } (presence on relay/device/#, docs/mqtt.md)`
        : "MQTT: off",
      relay.caPath ? `CA for clients: ${relay.caPath}` : "",
      `admin token: ${relay.paths.adminToken}`,
    ].filter(Boolean).join("\n"),
  );

  const stopped = Promise.withResolvers<void>();
  const stop = () => stopped.resolve();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  // A signal, or an admin's `relay drain` (which stops the relay itself).
  await Promise.race([stopped.promise, relay.stopped]);
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  await relay.shutdown();
  return 0;
}
