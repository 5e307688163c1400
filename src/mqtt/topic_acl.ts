// Per-device MQTT topic ACL (relay.mqtt.acl): a device may publish only to
// topics matching one of the publish patterns and subscribe only to filters
// that lie entirely inside a subscribe pattern, with {device_id} replaced by
// the device's own id. Used for device publications through the relay
// connection (as the core's topic policy port) and for MQTT tunnel sessions
// alike.
import type { TopicPolicy } from "../core/topic_policy.ts";

/**
 * Topics the relay itself publishes (mqtt_topics.ts): never a device's,
 * whatever its id and the ACL say. Without this, a device named "relay"
 * would match telemetry/{device_id}/# for telemetry/relay/<relay_id>.
 */
const RELAY_TOPICS = ["relay/#", "telemetry/relay/+"].map((pattern) =>
  pattern.split("/")
);

export interface TopicAclConfig {
  publish: readonly string[];
  subscribe: readonly string[];
}

export class TopicAcl implements TopicPolicy {
  readonly #config: TopicAclConfig;

  constructor(config: TopicAclConfig) {
    this.#config = config;
  }

  /** An MQTT topic name (the module's isValidTopic). */
  isValidTopic(topic: string): boolean {
    return isValidTopic(topic);
  }

  /** A concrete topic (no wildcards) the device may publish to. */
  canPublish(deviceId: string, topic: string): boolean {
    if (!isValidTopic(topic)) return false;
    const levels = topic.split("/");
    if (RELAY_TOPICS.some((pattern) => matches(pattern, levels))) return false;
    return this.#patterns(this.#config.publish, deviceId).some((pattern) =>
      matches(pattern, levels)
    );
  }

  /** A subscription filter whose every match the device may read. */
  canSubscribe(deviceId: string, filter: string): boolean {
    if (!isValidFilter(filter)) return false;
    const levels = filter.split("/");
    return this.#patterns(this.#config.subscribe, deviceId).some((pattern) =>
      covers(pattern, levels)
    );
  }

  #patterns(patterns: readonly string[], deviceId: string): string[][] {
    return patterns.map((pattern) =>
      pattern.replaceAll("{device_id}", deviceId).split("/")
    );
  }
}

/** MQTT topic name: non-empty, no wildcards, no NUL, at most 65535 bytes. */
export function isValidTopic(topic: string): boolean {
  return topic.length > 0 && !/[+#]/.test(topic) && !topic.includes("\0") &&
    new TextEncoder().encode(topic).byteLength <= 65535;
}

/** MQTT topic filter: '+' and '#' only as whole levels, '#' only last. */
export function isValidFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes("\u0000")) return false;
  const levels = filter.split("/");
  return levels.every((level, index) =>
    (level === "#" ? index === levels.length - 1 : true) &&
    (level.includes("+") || level.includes("#") ? level.length === 1 : true)
  );
}

/** Whether the filter `pattern` matches the concrete topic `levels`. */
function matches(
  pattern: readonly string[],
  levels: readonly string[],
): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const want = pattern[i];
    if (want === "#") return true;
    if (i >= levels.length) return false;
    if (want !== "+" && want !== levels[i]) return false;
  }
  return pattern.length === levels.length;
}

/** Whether every topic matched by the filter `levels` is matched by `pattern`. */
function covers(
  pattern: readonly string[],
  levels: readonly string[],
): boolean {
  for (let i = 0; i < levels.length; i++) {
    const want = pattern[i];
    const got = levels[i];
    if (want === "#") return true;
    if (want === undefined || got === "#") return false;
    if (want === "+") continue;
    if (got === "+" || got !== want) return false;
  }
  // The filter ended: "a/#" also matches "a" itself.
  return pattern.length === levels.length ||
    (pattern.length === levels.length + 1 && pattern.at(-1) === "#");
}
