// The MQTT topics a device agent publishes on through its relay connection
// (DESIGN section 6) and how its payloads are encoded. The relay enforces
// that a device publishes only to its own topics (relay.mqtt.acl.publish).
import type { PublishOptions } from "./publish_outbox.ts";

/** A JSON document (plain object), a string, or raw bytes. */
export type PublishPayload = Record<string, unknown> | string | Uint8Array;

/** device/{id}/status: QoS 1 and retained, so the last status stays readable. */
export function statusTopic(deviceId: string): string {
  return `device/${deviceId}/status`;
}
export const STATUS_DEFAULTS: PublishOptions = { qos: 1, retain: true };

/** telemetry/{id}: QoS 0, not retained (a stream of samples). */
export function telemetryTopic(deviceId: string): string {
  return `telemetry/${deviceId}`;
}
export const TELEMETRY_DEFAULTS: PublishOptions = { qos: 0, retain: false };

const encoder = new TextEncoder();

/**
 * Documents (plain objects) become JSON with `device_id` (always the
 * publishing device) and `timestamp` (unix ms, unless given) added; strings
 * and bytes are published unchanged.
 */
export function encodePublishPayload(
  payload: PublishPayload,
  deviceId: string,
): Uint8Array {
  if (payload instanceof Uint8Array) return payload;
  if (typeof payload === "string") return encoder.encode(payload);
  return encoder.encode(JSON.stringify({
    timestamp: Date.now(),
    ...payload,
    device_id: deviceId,
  }));
}
