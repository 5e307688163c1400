// Periodic relay telemetry on telemetry/relay/{relay_id} (QoS 0, not
// retained): devices by state and transport, open streams, requests and
// errors since the previous report, the MQTT queue and memory. Values come
// from the registry and the relay's Prometheus metrics.
import type { DeviceRegistry } from "../core/device_registry.ts";
import type { Logger } from "../observability/logger.ts";
import type { RelayMetrics } from "../observability/relay_metrics.ts";
import type { BrokerClientStatus } from "./broker_client.ts";
import type { MqttMetrics } from "./mqtt_metrics.ts";
import type { MqttPublisher } from "./mqtt_ports.ts";
import { relayTelemetryTopic } from "./mqtt_topics.ts";

export interface RelayTelemetryReport {
  relay_id: string;
  /** When the sample was taken (RFC 3339, UTC). */
  time: string;
  /** Seconds covered by the "since the previous report" figures. */
  interval_seconds: number;
  uptime_seconds: number;
  devices: {
    /** Sessions on this relay, connected or resumable. */
    total: number;
    connected: number;
    by_state: Record<string, number>;
    /** Connected devices by transport (h2, quic). */
    by_transport: Record<string, number>;
  };
  /** Open streams by kind (device, controller, tunnel). */
  streams: Record<string, number>;
  requests: {
    in_flight: number;
    /** Answered since the previous report. */
    count: number;
    /** Answered with a code other than OK since the previous report. */
    errors: number;
    rate_per_second: number;
    /** Since the previous report, by result code. */
    by_code: Record<string, number>;
  };
  mqtt: {
    connected: boolean;
    queued: number;
    max_queue: number;
    dropped: number;
    dropped_total: number;
    published: number;
  };
  memory: {
    rss_bytes: number;
    heap_used_bytes: number;
    heap_total_bytes: number;
    external_bytes: number;
  };
}

export interface RelayTelemetryOptions {
  relayId: string;
  startedAt: number;
  intervalMs: number;
  registry: DeviceRegistry;
  metrics: RelayMetrics;
  mqttMetrics: MqttMetrics;
  mqttStatus: () => BrokerClientStatus;
  publisher: MqttPublisher;
  logger: Logger;
  now?: () => number;
}

export class RelayTelemetry {
  readonly #options: RelayTelemetryOptions;
  readonly #now: () => number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #previous: {
    at: number;
    byCode: Map<string, number>;
    dropped: number;
    published: number;
  };

  constructor(options: RelayTelemetryOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#previous = {
      at: options.startedAt,
      byCode: new Map(),
      dropped: 0,
      published: 0,
    };
  }

  /** Publishes every intervalMs until stop(). */
  start(): void {
    if (this.#timer !== undefined || this.#options.intervalMs <= 0) return;
    this.#timer = setInterval(() => {
      this.sample().then(
        (report) =>
          this.#options.publisher.publish(
            relayTelemetryTopic(this.#options.relayId),
            JSON.stringify(report),
            { qos: 0, retain: false },
          ),
        // A failed sample is skipped; the next one covers its interval.
        (error) =>
          this.#options.logger.warn("relay telemetry sample failed", {
            error: (error as Error).message,
          }),
      );
    }, this.#options.intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Takes a report; figures "since the previous report" restart from here. */
  async sample(): Promise<RelayTelemetryReport> {
    const options = this.#options;
    const at = this.#now();
    const byCode = await counterValues(options.metrics.requests, "code");
    const streams = await gaugeValues(options.metrics.activeStreams, "kind");
    const [published] = (await options.mqttMetrics.published.get()).values;
    const status = options.mqttStatus();
    const previous = this.#previous;
    const seconds = Math.max(0.001, (at - previous.at) / 1000);
    const since: Record<string, number> = {};
    let count = 0;
    let errors = 0;
    for (const [code, total] of byCode) {
      const delta = total - (previous.byCode.get(code) ?? 0);
      if (delta <= 0) continue;
      since[code] = delta;
      count += delta;
      if (code !== "OK") errors += delta;
    }
    const devices = options.registry.list();
    const byState: Record<string, number> = {};
    const byTransport: Record<string, number> = {};
    let connected = 0;
    for (const device of devices) {
      byState[device.state] = (byState[device.state] ?? 0) + 1;
      if (device.link === null) continue;
      connected++;
      byTransport[device.transport] = (byTransport[device.transport] ?? 0) +
        1;
    }
    const memory = Deno.memoryUsage();
    const publishedTotal = published?.value ?? 0;
    this.#previous = {
      at,
      byCode,
      dropped: status.dropped,
      published: publishedTotal,
    };
    return {
      relay_id: options.relayId,
      time: new Date(at).toISOString(),
      interval_seconds: round(seconds, 3),
      uptime_seconds: Math.floor((at - options.startedAt) / 1000),
      devices: {
        total: devices.length,
        connected,
        by_state: byState,
        by_transport: byTransport,
      },
      streams: { device: 0, controller: 0, ...Object.fromEntries(streams) },
      requests: {
        in_flight: (await options.metrics.inFlightRequests.get()).values[0]
          ?.value ?? 0,
        count,
        errors,
        rate_per_second: round(count / seconds, 3),
        by_code: since,
      },
      mqtt: {
        connected: status.connected,
        queued: status.queued,
        max_queue: status.maxQueue,
        dropped: status.dropped - previous.dropped,
        dropped_total: status.dropped,
        published: publishedTotal - previous.published,
      },
      memory: {
        rss_bytes: memory.rss,
        heap_used_bytes: memory.heapUsed,
        heap_total_bytes: memory.heapTotal,
        external_bytes: memory.external,
      },
    };
  }
}

interface LabelledMetric {
  get(): Promise<
    { values: { value: number; labels: Record<string, string | number> }[] }
  >;
}

async function counterValues(
  metric: LabelledMetric,
  label: string,
): Promise<Map<string, number>> {
  const totals = new Map<string, number>();
  for (const { value, labels } of (await metric.get()).values) {
    const key = String(labels[label] ?? "");
    totals.set(key, (totals.get(key) ?? 0) + value);
  }
  return totals;
}

const gaugeValues = counterValues;

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
