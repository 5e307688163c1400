// Device presence on MQTT: events on relay/device/online and
// relay/device/offline (QoS 1, not retained) and the retained per-device
// presence relay/device/{device_id}/presence, which is cleared (empty
// retained payload) when the device goes offline, so a subscriber to
// relay/device/+/presence receives exactly the devices that are connected
// (or resumable) now. Payloads: docs/mqtt.md, docs/schemas/.
import type { RemoteGoneReason } from "../cluster/remote_presence.ts";
import type { OfflineReason, PresenceEvent } from "../core/device_registry.ts";
import type { DeviceSession, PresenceState } from "../core/device_session.ts";
import type { MqttPublisher, PublishOptions } from "./mqtt_ports.ts";
import {
  DEVICE_OFFLINE_TOPIC,
  DEVICE_ONLINE_TOPIC,
  devicePresenceTopic,
} from "./mqtt_topics.ts";

const EVENT: PublishOptions = { qos: 1, retain: false };
const RETAINED: PublishOptions = { qos: 1, retain: true };

export interface PresenceFields {
  device_id: string;
  connection_id: string;
  relay_id: string;
  relay_address: string;
  transport: string;
  project: string;
  /** When the change happened (RFC 3339, UTC). */
  time: string;
  /** Grows with every presence change of the device, across relay restarts. */
  generation: number;
  /** The registration's fencing generation (RegisterResponse.generation). */
  session_generation: number;
}

/** relay/device/online */
export interface DeviceOnlineEvent extends PresenceFields {
  event: "online";
  /** A resumed session (same connection_id, after a transport drop). */
  resumed: boolean;
}

/** relay/device/offline */
export interface DeviceOfflineEvent extends PresenceFields {
  event: "offline";
  /** remote, relay_lost: a device another relay of the cluster held. */
  reason: OfflineReason | RemoteGoneReason;
}

/** relay/device/{device_id}/presence (retained) */
export interface DevicePresence extends PresenceFields {
  state: PresenceState;
  /** When this connection was registered (RFC 3339, UTC). */
  connected_at: string;
}

export interface PresencePublisherOptions {
  relayId: string;
  /** The address controllers reach this relay at (DeviceInfo.relay_address). */
  relayAddress: () => string;
  publisher: MqttPublisher;
  /** Shared with the publisher of other relays' devices (cluster). */
  clock?: GenerationClock;
}

/**
 * Offline reasons that are no offline for the fleet: "moved", the session
 * went on at another relay of the cluster, whose presence says so.
 */
const NOT_OFFLINE: ReadonlySet<string> = new Set(["moved"]);

/** Whether an offline reason means the device went on at another relay. */
export function movedAway(reason: string): boolean {
  return NOT_OFFLINE.has(reason);
}

export class PresencePublisher {
  readonly #options: PresencePublisherOptions;
  readonly #clock: GenerationClock;
  /** The retained presence last published per device that is not offline. */
  readonly #current = new Map<string, string>();

  constructor(options: PresencePublisherOptions) {
    this.#options = options;
    this.#clock = options.clock ?? new GenerationClock();
  }

  /** Devices whose retained presence is set (connected or resumable). */
  get size(): number {
    return this.#current.size;
  }

  /** Whether this relay holds the device (its presence is published here). */
  has(deviceId: string): boolean {
    return this.#current.has(deviceId);
  }

  /** Lets go of a device without publishing (another relay holds it now). */
  forget(deviceId: string): void {
    this.#current.delete(deviceId);
  }

  onEvent(event: PresenceEvent): void {
    const { publisher } = this.#options;
    const session = event.session;
    if (event.type === "offline" && movedAway(event.reason)) {
      this.forget(session.deviceId);
      return;
    }
    const fields = this.#fields(session, event.at);
    const topic = devicePresenceTopic(session.deviceId);
    if (event.type === "offline") {
      this.#current.delete(session.deviceId);
      publisher.publish(topic, "", RETAINED);
      const offline: DeviceOfflineEvent = {
        event: "offline",
        ...fields,
        reason: event.reason,
      };
      publisher.publish(DEVICE_OFFLINE_TOPIC, JSON.stringify(offline), EVENT);
      return;
    }
    const presence: DevicePresence = {
      ...fields,
      state: event.type === "state" ? event.state : "online",
      connected_at: new Date(session.connectedAt).toISOString(),
    };
    const payload = JSON.stringify(presence);
    this.#current.set(session.deviceId, payload);
    if (event.type === "online") {
      const online: DeviceOnlineEvent = {
        event: "online",
        ...fields,
        resumed: event.resumed,
      };
      publisher.publish(DEVICE_ONLINE_TOPIC, JSON.stringify(online), EVENT);
    }
    publisher.publish(topic, payload, RETAINED);
  }

  /** Publishes the retained presence of every current device again (after a reconnect). */
  publishSnapshot(): void {
    for (const [deviceId, payload] of this.#current) {
      this.#options.publisher.publish(
        devicePresenceTopic(deviceId),
        payload,
        RETAINED,
      );
    }
  }

  /**
   * A retained presence found on the broker: cleared when it names this
   * relay and a device that is no longer here (left while the broker was
   * unreachable, or before this relay restarted).
   */
  onRetained(deviceId: string, payload: Uint8Array): void {
    if (payload.byteLength === 0 || this.#current.has(deviceId)) return;
    let relayId: unknown;
    try {
      relayId = JSON.parse(new TextDecoder().decode(payload))?.relay_id;
    } catch (_error) {
      return; // not ours: this relay publishes JSON only
    }
    if (relayId === this.#options.relayId) {
      this.#options.publisher.publish(
        devicePresenceTopic(deviceId),
        "",
        RETAINED,
      );
    }
  }

  #fields(session: DeviceSession, at: number): PresenceFields {
    return {
      device_id: session.deviceId,
      connection_id: session.connectionId,
      relay_id: this.#options.relayId,
      relay_address: this.#options.relayAddress(),
      transport: session.transport,
      project: session.project,
      time: new Date(at).toISOString(),
      generation: this.#clock.next(at),
      session_generation: session.generation,
    };
  }
}

/**
 * The `generation` of presence payloads, a hybrid logical clock in
 * microseconds: max(previous + 1, event time in µs). Strictly increasing for
 * every event of this relay, and ahead of the previous run's values after a
 * restart (unless the clock went back).
 */
export class GenerationClock {
  #last = 0;

  next(at: number): number {
    this.#last = Math.max(this.#last + 1, Math.round(at * 1000));
    return this.#last;
  }
}
