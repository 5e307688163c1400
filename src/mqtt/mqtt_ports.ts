// What the relay and the tunnel need from the MQTT side, so that they do not
// depend on a broker implementation (embedded aedes or external).
import type { Publisher } from "../core/publisher.ts";

export type { PublishOptions } from "../core/publisher.ts";

/** The core's publisher port (src/core/publisher.ts), as MQTT implements it. */
export type MqttPublisher = Publisher;

/** One raw MQTT connection to the relay's broker, as a byte stream. */
export interface BrokerConnection {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  close(): void;
}

export interface BrokerDialer {
  /** Opens a new connection to the broker (embedded: in process; external: TCP/TLS). */
  dial(): Promise<BrokerConnection>;
}

/**
 * The MQTT side of a running relay (src/mqtt/relay_mqtt.ts implements it).
 * Where to get it: `startRelay` (src/compose/relay_server.ts) creates it as `mqtt` (null when
 * relay.mqtt.enabled is false) before the RelayCore and passes `mqtt.publisher`
 * as RelayCoreOptions.publisher (the core's publisher port); the tunnel side takes `mqtt.dialer` there
 * (usable at once: dial() waits until the embedded broker runs). Outside,
 * `RunningRelay.mqtt` exposes the same object (undefined when MQTT is off).
 */
export interface RelayMqttPorts {
  /** Fire-and-forget publishing through the relay's bounded queue. */
  readonly publisher: MqttPublisher;
  /** Raw MQTT connections to the relay's broker (embedded: in process). */
  readonly dialer: BrokerDialer;
  /**
   * URL subscribers use: mqtt://host:port of the embedded broker's listener
   * (port resolved), or relay.mqtt.broker_address; "" when the embedded
   * broker could not bind its port.
   */
  readonly brokerUrl: string;
}
