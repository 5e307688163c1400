// Prometheus metrics of the relay's broker connection. Created before the
// relay core (whose registry they join once it exists: registerOn).
import { Counter, Gauge, type Registry } from "prom-client";

export class MqttMetrics {
  readonly connected = new Gauge({
    name: "relay_mqtt_connected",
    help: "1 while the relay's MQTT client is connected to the broker",
    registers: [],
  });
  readonly published = new Counter({
    name: "relay_mqtt_published_total",
    help:
      "Publications the broker accepted (QoS 1: acknowledged; QoS 0: written)",
    registers: [],
  });
  readonly dropped = new Counter({
    name: "relay_mqtt_dropped_total",
    help:
      "Publications dropped: outbound queue full (relay.mqtt.max_queue) or refused by the broker",
    registers: [],
  });
  readonly queue = new Gauge({
    name: "relay_mqtt_queue",
    help:
      "Publications waiting for the broker (queued, plus sent and not yet acknowledged)",
    registers: [],
  });
  readonly connects = new Counter({
    name: "relay_mqtt_connects_total",
    help: "Connection attempts to the broker by result (connected, failed)",
    labelNames: ["result"],
    registers: [],
  });

  registerOn(registry: Registry): void {
    for (
      const metric of [
        this.connected,
        this.published,
        this.dropped,
        this.queue,
        this.connects,
      ]
    ) {
      registry.registerMetric(metric);
    }
  }
}
