// Device presence on MQTT in a relay cluster: this relay's devices (through
// PresencePublisher) and the devices other relays hold, in the same topics
// and payloads, relay_id/relay_address naming the holder. A device that
// moves between relays changes holder (an online event, the retained
// presence rewritten) and is never reported offline; one whose holder
// leaves the cluster view goes offline with reason relay_lost.
//
// Modes (relay.cluster.mqtt_presence, docs/cluster.md): "all", every relay
// publishes every device (each relay has its own broker); "holder", relays
// share one broker, so only the holder publishes a device, and the live
// relay with the lowest id clears the devices of a relay that died.
import type {
  RemoteHolder,
  RemotePresenceChange,
} from "../cluster/remote_presence.ts";
import type { PresenceEvent } from "../core/device_registry.ts";
import type { PresenceState } from "../core/device_session.ts";
import type { MqttPublisher, PublishOptions } from "./mqtt_ports.ts";
import {
  DEVICE_OFFLINE_TOPIC,
  DEVICE_ONLINE_TOPIC,
  devicePresenceTopic,
} from "./mqtt_topics.ts";
import type {
  DeviceOfflineEvent,
  DeviceOnlineEvent,
  DevicePresence,
  GenerationClock,
  PresenceFields,
  PresencePublisher,
} from "./presence_publisher.ts";
import { movedAway } from "./presence_publisher.ts";

export type ClusterPresenceMode = "all" | "holder";

/** The other relays' devices (src/cluster/remote_presence.ts). */
export interface RemotePresenceSource {
  current(deviceId: string): RemoteHolder | undefined;
  isJanitor(): boolean;
  start(listener: (change: RemotePresenceChange) => void): void;
  close(): void;
}

export interface ClusterPresenceOptions {
  relayId: string;
  /** This relay's DeviceInfo.relay_address. */
  relayAddress: () => string;
  mode: ClusterPresenceMode;
  local: PresencePublisher;
  source: RemotePresenceSource;
  publisher: MqttPublisher;
  clock: GenerationClock;
}

const EVENT: PublishOptions = { qos: 1, retain: false };
const RETAINED: PublishOptions = { qos: 1, retain: true };

type StableFields = Omit<PresenceFields, "time" | "generation">;

/** What this relay published last for a device it does not hold. */
interface Published {
  fields: StableFields;
  state: PresenceState | "moved";
  /** The retained presence (undefined: left as the holder published it). */
  payload: string | undefined;
}

export class ClusterPresence {
  readonly #options: ClusterPresenceOptions;
  readonly #remote = new Map<string, Published>();

  constructor(options: ClusterPresenceOptions) {
    this.#options = options;
  }

  /** Starts following the other relays' devices. */
  start(): void {
    this.#options.source.start((change) => this.#onRemote(change));
  }

  close(): void {
    this.#options.source.close();
  }

  /** A presence change of a device this relay holds. */
  onLocalEvent(event: PresenceEvent): void {
    const { local, source, mode } = this.#options;
    const { deviceId } = event.session;
    if (event.type !== "offline") {
      this.#remote.delete(deviceId);
      local.onEvent(event);
      return;
    }
    const holder = source.current(deviceId);
    if (holder === undefined && !movedAway(event.reason)) {
      local.onEvent(event);
      return;
    }
    // It went on at another relay: no offline anywhere; the new holder's
    // presence replaces this one (now, or once the view shows it).
    local.forget(deviceId);
    if (mode !== "all") return;
    this.#remote.set(deviceId, {
      fields: this.#localFields(event.session),
      state: "moved",
      payload: undefined,
    });
    if (holder !== undefined) this.#hold(holder, event.at);
  }

  /** Republishes the retained presence of every device (after a reconnect). */
  publishSnapshot(): void {
    this.#options.local.publishSnapshot();
    for (const [deviceId, published] of this.#remote) {
      if (published.payload === undefined) continue;
      this.#options.publisher.publish(
        devicePresenceTopic(deviceId),
        published.payload,
        RETAINED,
      );
    }
  }

  #onRemote(change: RemotePresenceChange): void {
    const { local, mode, source } = this.#options;
    if (local.has(change.deviceId)) return; // this relay's session wins
    if (mode === "all") {
      if (change.holder !== undefined) this.#hold(change.holder, change.at);
      else this.#release(change);
      return;
    }
    // One shared broker: the holder published everything but its own death.
    if (
      change.holder === undefined && change.reason === "relay_lost" &&
      change.previous !== undefined && source.isJanitor()
    ) {
      this.#publishOffline(
        remoteFields(change.previous),
        "relay_lost",
        change.at,
      );
    }
  }

  /** Another relay holds the device: its presence, with an online event when the holding is new. */
  #hold(holder: RemoteHolder, at: number): void {
    const previous = this.#remote.get(holder.deviceId);
    const fields = remoteFields(holder);
    const sameHolding = previous !== undefined &&
      previous.fields.relay_id === fields.relay_id &&
      previous.fields.connection_id === fields.connection_id;
    if (sameHolding && previous.state === holder.state) return;
    const timed = this.#timed(fields, at);
    const presence: DevicePresence = {
      ...timed,
      state: holder.state,
      connected_at: isoTime(Number(holder.info.connected_at)),
    };
    const payload = JSON.stringify(presence);
    this.#remote.set(holder.deviceId, { fields, state: holder.state, payload });
    const { publisher } = this.#options;
    if (!sameHolding) {
      const online: DeviceOnlineEvent = {
        event: "online",
        ...timed,
        // The same connection at another relay: a session that moved.
        resumed: previous?.fields.connection_id === fields.connection_id,
      };
      publisher.publish(DEVICE_ONLINE_TOPIC, JSON.stringify(online), EVENT);
    }
    publisher.publish(devicePresenceTopic(holder.deviceId), payload, RETAINED);
  }

  #release(change: RemotePresenceChange): void {
    const previous = this.#remote.get(change.deviceId);
    if (previous === undefined) return;
    this.#remote.delete(change.deviceId);
    this.#publishOffline(previous.fields, change.reason ?? "remote", change.at);
  }

  #publishOffline(
    fields: StableFields,
    reason: DeviceOfflineEvent["reason"],
    at: number,
  ): void {
    const { publisher } = this.#options;
    publisher.publish(devicePresenceTopic(fields.device_id), "", RETAINED);
    const offline: DeviceOfflineEvent = {
      event: "offline",
      ...this.#timed(fields, at),
      reason,
    };
    publisher.publish(DEVICE_OFFLINE_TOPIC, JSON.stringify(offline), EVENT);
  }

  #timed(fields: StableFields, at: number): PresenceFields {
    return {
      ...fields,
      time: isoTime(at),
      generation: this.#options.clock.next(at),
    };
  }

  #localFields(session: PresenceEvent["session"]): StableFields {
    return {
      device_id: session.deviceId,
      connection_id: session.connectionId,
      relay_id: this.#options.relayId,
      relay_address: this.#options.relayAddress(),
      transport: session.transport,
      project: session.project,
      session_generation: session.generation,
    };
  }
}

function remoteFields(holder: RemoteHolder): StableFields {
  return {
    device_id: holder.deviceId,
    connection_id: holder.connectionId,
    relay_id: holder.relayId,
    relay_address: holder.info.relay_address ?? "",
    transport: holder.info.transport ?? "",
    project: holder.info.project ?? "",
    session_generation: holder.sessionGeneration,
  };
}

function isoTime(ms: number): string {
  return new Date(Number.isFinite(ms) && ms > 0 ? ms : Date.now())
    .toISOString();
}
