// Device publications (DevicePublish on the device stream): status and
// telemetry a device sends through its relay connection, republished on MQTT
// as that device. Each one is checked (QoS, payload size, rate limits, the
// topic policy with the device's own id) before it is handed to the publisher;
// a refusal is answered, never fatal to the device's stream. Payloads are
// never logged.
import { Counter, type Registry } from "prom-client";
import { RelayError } from "../errors/relay_error.ts";
import type { Logger } from "../observability/logger.ts";
import type { Gatekeeper, Peer } from "./gatekeeper.ts";
import type { Publisher } from "./publisher.ts";
import type { TopicPolicy } from "./topic_policy.ts";
import type { DevicePublish__Output as DevicePublish } from "../gen/relay/v1/DevicePublish.ts";
import type { PublishAck } from "../gen/relay/v1/PublishAck.ts";

/** Longest topic quoted in errors and log lines (the policy sees all of it). */
const QUOTED_TOPIC_CHARS = 200;

type Outcome =
  | "ok"
  | "invalid"
  | "denied"
  | "rate_limited"
  | "unavailable"
  | "failed";

export interface DevicePublicationsOptions {
  /** Which topics a device may publish to (the MQTT topic ACL). */
  topicPolicy: TopicPolicy;
  /** Absent while MQTT is off: accepted publications are answered UNAVAILABLE. */
  publisher?: Publisher | undefined;
  gate: Gatekeeper;
  logger: Logger;
  /** relay.limits.max_publish_payload_bytes (capped by request.max_payload_bytes) */
  maxPayloadBytes: number;
  /** Where relay_device_publishes_total is registered. */
  registry: Registry;
}

export class DevicePublications {
  readonly #options: DevicePublicationsOptions;
  readonly #outcomes: Counter<"result">;

  constructor(options: DevicePublicationsOptions) {
    this.#options = options;
    this.#outcomes = new Counter({
      name: "relay_device_publishes_total",
      help: "Device publications through the relay connection, by outcome",
      labelNames: ["result"],
      registers: [options.registry],
    });
  }

  /**
   * Checks one publication and hands it to the publisher. Returns the
   * PublishAck to send, or undefined when the device asked for none (id 0).
   */
  handle(
    peer: Peer,
    deviceId: string,
    publish: DevicePublish,
  ): PublishAck | undefined {
    let error: RelayError | undefined;
    try {
      this.#accept(peer, deviceId, publish);
      this.#outcomes.inc({ result: "ok" });
    } catch (thrown) {
      error = RelayError.from(thrown);
      this.#outcomes.inc({ result: outcomeOf(error) });
      this.#options.logger.debug("device publish refused", {
        device_id: deviceId,
        topic: quote(publish.topic),
        code: error.code,
        reason: error.message,
      });
    }
    if (publish.id === 0) return undefined;
    return {
      id: publish.id,
      error: error?.code ?? "OK",
      error_message: error?.message ?? "",
    };
  }

  #accept(peer: Peer, deviceId: string, publish: DevicePublish): void {
    const { topicPolicy, gate, maxPayloadBytes, publisher } = this.#options;
    const { topic, payload, qos, retain } = publish;
    if (qos !== 0 && qos !== 1 && qos !== 2) {
      throw invalid(`qos must be 0, 1 or 2, got ${qos}`);
    }
    if (!topicPolicy.isValidTopic(topic)) {
      throw invalid(
        "topic must be a non-empty MQTT topic name without wildcards",
      );
    }
    if (payload.byteLength > maxPayloadBytes) {
      throw invalid(
        `payload is ${payload.byteLength} bytes, more than ${maxPayloadBytes} (relay.limits.max_publish_payload_bytes)`,
      );
    }
    gate.admitDevicePublish(peer, deviceId, payload.byteLength);
    if (!topicPolicy.canPublish(deviceId, topic)) {
      const error = new RelayError(
        "PERMISSION_DENIED",
        `device ${deviceId} may not publish to ${
          quote(topic)
        } (relay.mqtt.acl.publish)`,
        { source: "downstream" },
      );
      gate.publishDenied(peer, deviceId, error);
      throw error;
    }
    if (publisher === undefined) {
      throw new RelayError(
        "UNAVAILABLE",
        "MQTT is off on this relay; publication dropped",
        { source: "internal", retryable: false },
      );
    }
    try {
      // A copy: the publisher may hold it while the transport reuses its buffer.
      publisher.publish(topic, new Uint8Array(payload), { qos, retain });
    } catch (error) {
      throw new RelayError("UNAVAILABLE", "the MQTT publisher refused it", {
        cause: error,
      });
    }
  }
}

function invalid(message: string): RelayError {
  return new RelayError("INVALID_REQUEST", message, { source: "downstream" });
}

function outcomeOf(error: RelayError): Outcome {
  switch (error.code) {
    case "INVALID_REQUEST":
      return "invalid";
    case "PERMISSION_DENIED":
      return "denied";
    case "RATE_LIMITED":
      return "rate_limited";
    case "UNAVAILABLE":
      return "unavailable";
    default:
      return "failed";
  }
}

/** The topic as JSON, cut to a readable length. */
function quote(topic: string): string {
  return JSON.stringify(
    topic.length > QUOTED_TOPIC_CHARS
      ? `${topic.slice(0, QUOTED_TOPIC_CHARS)}...`
      : topic,
  );
}
