// What the core makes of a presence change: the disconnect and transport
// switch metrics, the audit record of a device going offline, and a log line.
// (Presence on MQTT is the composition root's onPresence.)
import type { Logger } from "../observability/logger.ts";
import type { RelayMetrics } from "../observability/relay_metrics.ts";
import type { PresenceEvent } from "./device_registry.ts";
import type { Gatekeeper } from "./gatekeeper.ts";

export interface PresenceRecorders {
  metrics: RelayMetrics;
  gate: Gatekeeper;
  logger: Logger;
}

export function recordPresence(
  event: PresenceEvent,
  { metrics, gate, logger }: PresenceRecorders,
): void {
  const fields = {
    device_id: event.session.deviceId,
    connection_id: event.session.connectionId,
    generation: event.session.generation,
  };
  if (event.type === "offline") {
    metrics.deviceDisconnects.inc({ reason: event.reason });
    gate.deviceDisconnected(
      event.session,
      event.session.deviceId,
      event.reason,
    );
    logger.info("device offline", { ...fields, reason: event.reason });
  } else if (event.type === "state") {
    logger.info("device presence changed", { ...fields, state: event.state });
  } else if (
    event.previousTransport !== undefined && event.previousTransport !== "" &&
    event.previousTransport !== event.session.transport
  ) {
    // A resume on another transport: h2 -> quic is an upgrade, quic -> h2 a fallback.
    metrics.transportSwitches.inc({
      from: event.previousTransport,
      to: event.session.transport,
    });
    logger.info("device changed transport", {
      ...fields,
      from: event.previousTransport,
      to: event.session.transport,
    });
  }
}
