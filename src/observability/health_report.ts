// The JSON body of /health: component status and live figures. It takes
// plain figures; the composition root reads them from the core and MQTT.
import type { RelayConfig } from "../config/config_schema.ts";
import type { ComponentStatus, HealthReport } from "./health_server.ts";

export const VERSION = "0.2.0";

/** What /health shows about MQTT (src/mqtt/relay_mqtt.ts reports it). */
export interface MqttHealth {
  degraded: boolean;
  message: string;
  broker: "embedded" | "external";
  url: string;
  connected: boolean;
  queued: number;
  max_queue: number;
  dropped: number;
}

/** One device session: its transport, and whether its stream is up (else it waits for a resume). */
export interface DeviceHealth {
  transport: string;
  connected: boolean;
}

export interface HealthReportInput {
  /** The relay is draining or shutting down. */
  draining: boolean;
  /** Every device session the relay holds. */
  devices: readonly DeviceHealth[];
  /** Controller requests routed and not answered yet. */
  inFlightRequests: number;
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
  const { config, devices, draining } = input;
  const serving: ComponentStatus = draining ? "unhealthy" : "healthy";
  const byTransport: Record<string, number> = {};
  for (const device of devices) {
    if (device.connected) {
      byTransport[device.transport] = (byTransport[device.transport] ?? 0) + 1;
    }
  }
  const mqtt = input.mqtt;
  return {
    // QUIC that should listen but cannot, or MQTT without its broker:
    // devices and controllers are still served.
    status: draining
      ? "draining"
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
      devices_connected: devices.filter((d) => d.connected).length,
      devices_resumable: devices.filter((d) => !d.connected).length,
      devices_by_transport: byTransport,
      in_flight_requests: input.inFlightRequests,
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
