// What the relay core and the tunnel need from the MQTT side, so that they
// do not depend on a broker implementation (embedded aedes or external).

export interface PublishOptions {
  qos: 0 | 1 | 2;
  retain: boolean;
}

export interface MqttPublisher {
  /** Queues a publication (bounded); never blocks device or controller traffic. */
  publish(
    topic: string,
    payload: Uint8Array | string,
    options: PublishOptions,
  ): void;
}

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
