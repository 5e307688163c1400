// The publisher port: where the core hands device publications (status and
// telemetry a device sends on its relay connection). The composition root
// passes the relay's MQTT client (src/mqtt); the core knows no broker.

export interface PublishOptions {
  qos: 0 | 1 | 2;
  retain: boolean;
}

export interface Publisher {
  /** Queues a publication (bounded); never blocks device or controller traffic. */
  publish(
    topic: string,
    payload: Uint8Array | string,
    options: PublishOptions,
  ): void;
}
