// Prometheus metrics of one relay instance (own registry, no global state).
// Label values come from closed sets (codes, states, transports).
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** Buckets of the duration histograms, 0.5 ms to 10 s. */
export const SECONDS_BUCKETS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

export interface DeviceSample {
  state: string;
  transport: string;
}

/** What the idempotency cache gauges read (observability never imports the core). */
export interface CacheSample {
  readonly size: number;
  readonly bytes: number;
}

export class RelayMetrics {
  readonly registry = new Registry();
  readonly devices: Gauge<"state" | "transport">;
  readonly activeStreams: Gauge<"kind">;
  readonly inFlightRequests: Gauge;
  readonly requests: Counter<"code">;
  readonly requestDuration: Histogram<"code">;
  readonly deviceRegistrations: Counter<"result">;
  readonly deviceDisconnects: Counter<"reason">;
  readonly authFailures: Counter<"principal">;
  readonly idempotencyHits: Counter<"kind">;
  readonly quicHandshakeFailures: Counter;
  readonly quicListenerUp: Gauge;
  readonly transportSwitches: Counter<"from" | "to">;
  readonly processMemory: Gauge<"area">;
  readonly eventLoopLag: Histogram;
  #cache: CacheSample = { size: 0, bytes: 0 };

  /** `listDevices` is read at scrape time, so the device gauge is always current. */
  constructor(listDevices: () => Iterable<DeviceSample> = () => []) {
    const registers = [this.registry];
    this.devices = new Gauge({
      name: "relay_devices",
      help: "Devices known to this relay by presence state and transport",
      labelNames: ["state", "transport"],
      registers,
      collect() {
        this.reset();
        for (const device of listDevices()) {
          this.inc({
            state: device.state,
            transport: device.transport || "none",
          });
        }
      },
    });
    this.activeStreams = new Gauge({
      name: "relay_active_streams",
      help: "Open device and controller streams",
      labelNames: ["kind"],
      registers,
    });
    this.inFlightRequests = new Gauge({
      name: "relay_in_flight_requests",
      help: "Controller requests waiting for a device response",
      registers,
    });
    this.requests = new Counter({
      name: "relay_requests_total",
      help: "Controller requests answered, by result code",
      labelNames: ["code"],
      registers,
    });
    this.requestDuration = new Histogram({
      name: "relay_request_duration_seconds",
      help: "Time from a controller request to its answer",
      labelNames: ["code"],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.deviceRegistrations = new Counter({
      name: "relay_device_registrations_total",
      help: "Device registrations by result (new, resumed, rejected)",
      labelNames: ["result"],
      registers,
    });
    this.deviceDisconnects = new Counter({
      name: "relay_device_disconnects_total",
      help:
        "Device sessions ended, by reason (graceful, timeout, replaced, revoked, relay_shutdown, resume_window_expired)",
      labelNames: ["reason"],
      registers,
    });
    this.authFailures = new Counter({
      name: "relay_auth_failures_total",
      help: "Rejected credentials by principal kind",
      labelNames: ["principal"],
      registers,
    });
    this.idempotencyHits = new Counter({
      name: "relay_idempotency_hits_total",
      help:
        "Requests answered from the idempotency cache or joined to an in-flight twin",
      labelNames: ["kind"],
      registers,
    });
    this.quicListenerUp = new Gauge({
      name: "relay_quic_listener_up",
      help:
        "1 while the QUIC listener serves, 0 when it is configured but could not bind",
      registers,
    });
    this.quicHandshakeFailures = new Counter({
      name: "relay_quic_handshake_failures_total",
      help: "QUIC connections that failed before their first stream",
      registers,
    });
    this.transportSwitches = new Counter({
      name: "relay_transport_switches_total",
      help:
        "Resumed device sessions that changed transport (h2 to quic is an upgrade, quic to h2 a fallback)",
      labelNames: ["from", "to"],
      registers,
    });
    this.processMemory = new Gauge({
      name: "relay_process_memory_bytes",
      help:
        "Memory of the relay process: rss, heap_used, heap_total, external (read at scrape time)",
      labelNames: ["area"],
      registers,
      collect() {
        const memory = Deno.memoryUsage();
        this.set({ area: "rss" }, memory.rss);
        this.set({ area: "heap_used" }, memory.heapUsed);
        this.set({ area: "heap_total" }, memory.heapTotal);
        this.set({ area: "external" }, memory.external);
      },
    });
    const cache = () => this.#cache;
    new Gauge({
      name: "relay_idempotency_cache",
      help:
        "Responses held by the idempotency cache (entries) and the buffer bytes their payloads keep alive (bytes)",
      labelNames: ["measure"],
      registers,
      collect() {
        this.set({ measure: "entries" }, cache().size);
        this.set({ measure: "bytes" }, cache().bytes);
      },
    });
    this.eventLoopLag = new Histogram({
      name: "relay_event_loop_lag_seconds",
      help:
        "How late the relay's event loop ran a 100 ms timer: how long work waited behind other work",
      buckets: SECONDS_BUCKETS,
      registers,
    });
  }

  /** The cache whose size and bytes relay_idempotency_cache reports. */
  watchIdempotencyCache(cache: CacheSample): void {
    this.#cache = cache;
  }
}
