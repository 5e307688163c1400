// The JSON body of /health: component status and live figures.
import type { RelayConfig } from "../config/config_schema.ts";
import type { RelayCore } from "../core/relay_core.ts";
import type { MqttHealth } from "../mqtt/relay_mqtt.ts";
import type { ComponentStatus, HealthReport } from "./health_server.ts";

export const VERSION = "0.2.0";

export interface HealthReportInput {
  core: RelayCore;
  config: RelayConfig;
  startedAt: number;
  tls: boolean;
  /** Bound QUIC address, or why QUIC is off (by configuration: not a fault). */
  quic: { listening: string } | { off: string; failed: boolean };
  databasePath: string;
  /** The MQTT component, or why it is off (by configuration: not a fault). */
  mqtt: MqttHealth | { off: string };
}

export function healthReport(input: HealthReportInput): HealthReport {
  const { core, config } = input;
  const draining = core.draining;
  const serving: ComponentStatus = draining ? "unhealthy" : "healthy";
  const devices = core.registry.list();
  const byTransport: Record<string, number> = {};
  for (const device of devices) {
    if (device.link !== null) {
      byTransport[device.transport] = (byTransport[device.transport] ?? 0) + 1;
    }
  }
  const mqtt = input.mqtt;
  return {
    // QUIC that should listen but cannot, or MQTT without its broker:
    // devices and controllers are still served.
    status: draining
      ? "unhealthy"
      : ("off" in input.quic && input.quic.failed) ||
          ("degraded" in mqtt && mqtt.degraded)
      ? "degraded"
      : "healthy",
    relay_id: config.relay.id,
    version: VERSION,
    uptime_seconds: Math.floor((Date.now() - input.startedAt) / 1000),
    components: {
      grpc_server: {
        status: serving,
        message: draining
          ? "draining"
          : `listening on ${config.relay.address} (${
            input.tls ? "TLS" : "plaintext"
          })`,
      },
      quic_listener: "listening" in input.quic
        ? {
          status: serving,
          message: draining
            ? "draining"
            : `listening on ${input.quic.listening}`,
        }
        : {
          status: input.quic.failed ? "degraded" : serving,
          message: `off: ${input.quic.off}`,
        },
      store: { status: "healthy", message: input.databasePath },
      auth: { status: "healthy", message: "HS256 JWT" },
      mqtt: "off" in mqtt
        ? { status: "healthy", message: `off: ${mqtt.off}` }
        : {
          status: mqtt.degraded ? "degraded" : "healthy",
          message: mqtt.message,
        },
    },
    metrics: {
      devices_connected: devices.filter((d) => d.link !== null).length,
      devices_resumable: devices.filter((d) => d.link === null).length,
      devices_by_transport: byTransport,
      in_flight_requests: core.router.inFlight,
      ...("off" in mqtt ? {} : {
        mqtt: {
          broker: mqtt.broker,
          url: mqtt.url,
          connected: mqtt.connected,
          queued: mqtt.queued,
          max_queue: mqtt.max_queue,
          dropped: mqtt.dropped,
        },
      }),
    },
  };
}
