// The relay's MQTT component: the broker (embedded aedes, or an external one
// over mqtt:// or mqtts://), the relay's own client with its bounded queue,
// device presence, the relay's status and last will, and relay telemetry.
// Created before the RelayCore (which publishes through `publisher`),
// started once the core exists, shut down after the core has sent its
// devices offline.
import type { RelayConfig } from "../config/config_schema.ts";
import type { PresenceEvent } from "../core/device_registry.ts";
import type { RelayCore } from "../core/relay_core.ts";
import { RelayError } from "../errors/relay_error.ts";
import type { MqttHealth } from "../observability/health_report.ts";
import type { Logger } from "../observability/logger.ts";
import { BrokerClient } from "./broker_client.ts";
import {
  ClusterPresence,
  type ClusterPresenceMode,
  type RemotePresenceSource,
} from "./cluster_presence.ts";
import { embeddedDialer, externalDialer } from "./broker_dialer.ts";
import {
  type BrokerTarget,
  loadBrokerTarget,
  openNodeSocket,
} from "./broker_target.ts";
import { EmbeddedBroker } from "./embedded_broker.ts";
import { MqttMetrics } from "./mqtt_metrics.ts";
import type {
  BrokerConnection,
  BrokerDialer,
  MqttPublisher,
  RelayMqttPorts,
} from "./mqtt_ports.ts";
import {
  DEVICE_PRESENCE_FILTER,
  isTopicLevel,
  presenceTopicDevice,
} from "./mqtt_topics.ts";
import { GenerationClock, PresencePublisher } from "./presence_publisher.ts";
import { relayStatus } from "./relay_status.ts";
import { RelayTelemetry } from "./relay_telemetry.ts";

/** How long shutdown waits for queued publications to reach the broker. */
const SHUTDOWN_FLUSH_MS = 2000;

export interface RelayMqttStart {
  core: RelayCore;
  /** DeviceInfo.relay_address of this relay (known once the listener is bound). */
  relayAddress: () => string;
  /** In a cluster: the devices other relays hold, published here too. */
  remotePresence?: RemotePresenceSource;
}

export class RelayMqtt implements RelayMqttPorts {
  readonly #config: RelayConfig;
  readonly #logger: Logger;
  readonly #target: BrokerTarget | null;
  readonly #metrics = new MqttMetrics();
  readonly #client: BrokerClient;
  readonly #presence: PresencePublisher;
  readonly #clock = new GenerationClock();
  /** In a cluster: this relay's devices and the others' (else undefined). */
  #cluster: ClusterPresence | undefined;
  readonly #started = Promise.withResolvers<void>();
  readonly #startedAt = Date.now();
  #relayAddress: () => string;
  #embedded: EmbeddedBroker | undefined;
  #embeddedError = "";
  #telemetry: RelayTelemetry | undefined;
  #stopping: Promise<void> | undefined;

  /** Null when relay.mqtt.enabled is false. Fails on unreadable TLS files. */
  static async create(
    config: RelayConfig,
    logger: Logger,
  ): Promise<RelayMqtt | null> {
    const mqtt = config.relay.mqtt;
    if (!mqtt.enabled) return null;
    if (!isTopicLevel(config.relay.id)) {
      throw new RelayError(
        "INVALID_REQUEST",
        "config key relay.id: must not contain '/', '+' or '#' (it is an MQTT topic level)",
      );
    }
    const target = mqtt.broker_address === ""
      ? null
      : await loadBrokerTarget(mqtt);
    return new RelayMqtt(config, logger, target);
  }

  private constructor(
    config: RelayConfig,
    logger: Logger,
    target: BrokerTarget | null,
  ) {
    this.#config = config;
    this.#logger = logger;
    this.#target = target;
    const mqtt = config.relay.mqtt;
    const relayId = config.relay.id;
    this.#relayAddress = () =>
      config.relay.advertise_address || config.relay.address;
    this.#client = new BrokerClient({
      label: target?.url ?? "embedded broker (in process)",
      clientId: mqtt.client_id || `relay-${relayId}`,
      openStream: () =>
        target !== null
          ? openNodeSocket(target)
          : this.#embeddedBroker().connectInProcess(true),
      username: mqtt.username,
      password: mqtt.password,
      keepaliveSeconds: mqtt.keepalive_seconds,
      reconnectMinMs: mqtt.reconnect_min_seconds * 1000,
      reconnectMaxMs: mqtt.reconnect_max_seconds * 1000,
      maxQueue: mqtt.max_queue,
      will: () => relayStatus(this.#statusInput(), "offline", "crashed"),
      onConnect: () => this.#onConnect(),
      metrics: this.#metrics,
      logger,
    });
    this.#presence = new PresencePublisher({
      relayId,
      relayAddress: () => this.#relayAddress(),
      publisher: this.#client,
      clock: this.#clock,
    });
  }

  /** Publishing for the core (device publications) and everything else. */
  get publisher(): MqttPublisher {
    return this.#client;
  }

  readonly dialer: BrokerDialer = {
    dial: async (): Promise<BrokerConnection> => {
      await this.#started.promise;
      if (this.#stopping !== undefined) {
        throw new RelayError("UNAVAILABLE", "relay is shutting down");
      }
      return this.#target !== null
        ? externalDialer(this.#target).dial()
        : embeddedDialer(this.#embeddedBroker()).dial();
    },
  };

  get brokerUrl(): string {
    if (this.#target !== null) return this.#target.url;
    const listening = this.#embedded?.listening ?? "";
    return listening === "" ? "" : `mqtt://${listening}`;
  }

  /** Feed of the registry's presence events (synchronous, never throws). */
  onPresence(event: PresenceEvent): void {
    if (this.#cluster !== undefined) this.#cluster.onLocalEvent(event);
    else this.#presence.onEvent(event);
  }

  /**
   * Starts the embedded broker (a port it cannot bind leaves it in-process
   * only: degraded, like QUIC) and the client, which connects in the
   * background. Never waits for an external broker.
   */
  async start(start: RelayMqttStart): Promise<void> {
    this.#relayAddress = start.relayAddress;
    const { core } = start;
    const mqtt = this.#config.relay.mqtt;
    this.#metrics.registerOn(core.metrics.registry);
    if (this.#target === null) {
      try {
        this.#embedded = await EmbeddedBroker.start({
          address: mqtt.embedded_address,
          logger: this.#logger,
        });
      } catch (error) {
        this.#embeddedError = (error as Error).message;
        this.#logger.error("embedded MQTT broker failed; MQTT is off", {
          reason: this.#embeddedError,
        });
      }
    }
    this.#started.resolve();
    if (this.#target === null && this.#embedded === undefined) return;
    if (start.remotePresence !== undefined) {
      this.#cluster = new ClusterPresence({
        relayId: this.#config.relay.id,
        relayAddress: () => this.#relayAddress(),
        mode: this.#clusterMode(),
        local: this.#presence,
        source: start.remotePresence,
        publisher: this.#client,
        clock: this.#clock,
      });
      this.#cluster.start();
    }
    if (mqtt.telemetry_interval_seconds > 0) {
      this.#telemetry = new RelayTelemetry({
        relayId: this.#config.relay.id,
        startedAt: this.#startedAt,
        intervalMs: mqtt.telemetry_interval_seconds * 1000,
        registry: core.registry,
        metrics: core.metrics,
        mqttMetrics: this.#metrics,
        mqttStatus: () => this.#client.status(),
        publisher: this.#client,
        logger: this.#logger,
      });
      this.#telemetry.start();
    }
    this.#client.start();
    this.#logger.info("MQTT started", {
      broker: this.#target === null ? "embedded" : "external",
      url: this.brokerUrl || "in process only",
    });
  }

  /** A relay telemetry report now (the periodic one, on demand). */
  telemetrySample() {
    if (this.#telemetry === undefined) {
      throw new RelayError("UNAVAILABLE", "relay telemetry is off");
    }
    return this.#telemetry.sample();
  }

  health(): MqttHealth {
    const status = this.#client.status();
    const external = this.#target !== null;
    const queue =
      `queue ${status.queued}/${status.maxQueue}, dropped ${status.dropped}`;
    const connection = status.connected
      ? "connected"
      : `disconnected${status.lastError ? ` (${status.lastError})` : ""}`;
    let where: string;
    let degraded = !status.connected;
    if (external) {
      where = `external broker ${this.#target!.url}`;
    } else if (this.#embedded === undefined) {
      where = `embedded broker failed: ${this.#embeddedError || "not started"}`;
      degraded = true;
    } else if (this.#embedded.listening === "") {
      where =
        `embedded broker in process only (cannot listen on ${this.#config.relay.mqtt.embedded_address}: ${this.#embedded.listenError})`;
      degraded = true;
    } else where = `embedded broker on mqtt://${this.#embedded.listening}`;
    return {
      degraded,
      message: `${where}, ${connection}, ${queue}`,
      broker: external ? "external" : "embedded",
      url: this.brokerUrl,
      connected: status.connected,
      queued: status.queued,
      max_queue: status.maxQueue,
      dropped: status.dropped,
    };
  }

  /**
   * After the core went down (its devices' offline events are queued):
   * sends what is queued and the relay's "offline"/"shutdown" status, then
   * disconnects cleanly (no last will) and stops the embedded broker.
   */
  shutdown(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#started.resolve();
      this.#cluster?.close();
      this.#telemetry?.stop();
      if (this.#client.connected) {
        this.#client.publish(
          ...publishArgs(
            relayStatus(this.#statusInput(), "offline", "shutdown"),
          ),
        );
        const flushed = await this.#client.flush(SHUTDOWN_FLUSH_MS);
        if (!flushed) {
          this.#logger.warn("MQTT publications left unsent at shutdown", {
            queued: this.#client.status().queued,
          });
        }
      }
      await this.#client.close();
      await this.#embedded?.close();
    })();
    return this.#stopping;
  }

  /**
   * auto: relays with their own embedded broker each publish the whole
   * fleet; on an external broker, which relays of a cluster usually share,
   * only a device's holder does (else every relay would publish it).
   */
  #clusterMode(): ClusterPresenceMode {
    const mode = this.#config.relay.cluster.mqtt_presence;
    if (mode !== "auto") return mode;
    return this.#target === null ? "all" : "holder";
  }

  #embeddedBroker(): EmbeddedBroker {
    if (this.#embedded === undefined) {
      throw new RelayError(
        "UNAVAILABLE",
        "the embedded MQTT broker is not running",
      );
    }
    return this.#embedded;
  }

  #statusInput() {
    return {
      relayId: this.#config.relay.id,
      relayAddress: this.#relayAddress(),
      startedAt: this.#startedAt,
      now: Date.now(),
    };
  }

  /** On every (re)connection: own status first, then the presence snapshot. */
  #onConnect(): void {
    this.#client.publishUrgent(relayStatus(this.#statusInput(), "online"));
    (this.#cluster ?? this.#presence).publishSnapshot();
    // Clear retained presence this relay left behind (devices gone while the
    // broker was unreachable, or before a restart of this relay).
    this.#client.scanRetained(DEVICE_PRESENCE_FILTER, (topic, payload) => {
      const deviceId = presenceTopicDevice(topic);
      if (deviceId !== undefined) this.#presence.onRetained(deviceId, payload);
    }).catch((error) =>
      this.#logger.debug("MQTT retained presence scan incomplete", {
        error: (error as Error).message,
      })
    );
  }
}

function publishArgs(
  publication: ReturnType<typeof relayStatus>,
): Parameters<MqttPublisher["publish"]> {
  return [publication.topic, publication.payload, {
    qos: publication.qos,
    retain: publication.retain,
  }];
}
