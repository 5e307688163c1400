// The MQTT topics the relay publishes to (payloads: docs/mqtt.md and
// docs/schemas/). Device and relay ids are single topic levels.

/** Event: a device connected (or resumed) on a relay. QoS 1, not retained. */
export const DEVICE_ONLINE_TOPIC = "relay/device/online";
/** Event: a device's session ended. QoS 1, not retained. */
export const DEVICE_OFFLINE_TOPIC = "relay/device/offline";
/** Every device's retained presence in one subscription. */
export const DEVICE_PRESENCE_FILTER = "relay/device/+/presence";

/** Retained presence of one device; cleared (empty payload) when it goes offline. */
export function devicePresenceTopic(deviceId: string): string {
  return `relay/device/${deviceId}/presence`;
}

/** The device id in a presence topic, or undefined for another topic. */
export function presenceTopicDevice(topic: string): string | undefined {
  const match = /^relay\/device\/([^/+#]+)\/presence$/.exec(topic);
  return match?.[1];
}

/** Retained status of a relay; its last will says "offline"/"crashed". */
export function relayStatusTopic(relayId: string): string {
  return `relay/relay/${relayId}/status`;
}

/** Periodic relay telemetry. QoS 0, not retained. */
export function relayTelemetryTopic(relayId: string): string {
  return `telemetry/relay/${relayId}`;
}

/** A string usable as one topic level: non-empty, no '/', '+', '#' or NUL. */
export function isTopicLevel(value: string): boolean {
  return value.length > 0 && !/[/+#]/.test(value) && !value.includes("\0");
}
