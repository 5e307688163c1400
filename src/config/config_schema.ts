// The relay's configuration: one YAML file, keys following the original
// gRPC-Relay config/relay.yaml. Every key has a default and is used somewhere.
import { z } from "zod";

const seconds = z.number().positive();
const address = z.string().regex(
  /^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/,
  "expected host:port",
);

export const configSchema = z.strictObject({
  relay: z.strictObject({
    /** Identity of this relay in logs, metrics and device info. */
    id: z.string().min(1).default("relay-001"),
    /** HTTP/2 gRPC listener. */
    address: address.default("0.0.0.0:50051"),
    /** QUIC listener (UDP): raw QUIC for devices, HTTP/3 WebTransport for browsers. */
    quic_address: address.default("0.0.0.0:50052"),
    /** Address reported to controllers as relay_address; defaults to `address`. */
    advertise_address: z.string().default(""),
    /** Directory for the dev CA, certificates, admin token and the store. */
    state_dir: z.string().min(1).default(".relay"),
    max_device_connections: z.number().int().positive().default(10000),
    heartbeat_interval_seconds: seconds.default(30),
    shutdown_grace_seconds: z.number().nonnegative().default(10),
    quic: z.strictObject({
      /** QUIC needs TLS: with relay.tls.enabled false it stays off. */
      enabled: z.boolean().default(true),
      idle_timeout_seconds: seconds.default(30),
      keep_alive_seconds: seconds.default(10),
      /** Concurrent bidirectional streams a peer may open on one connection. */
      max_streams: z.number().int().positive().default(256),
      /** Largest frame accepted on a QUIC stream (checked before allocation). */
      max_frame_bytes: z.number().int().positive().default(
        4 * 1024 * 1024 + 64 * 1024,
      ),
    }).prefault({}),
    presence: z.strictObject({
      suspect_after_seconds: seconds.default(120),
      offline_after_seconds: seconds.default(300),
    }).prefault({}),
    session: z.strictObject({
      resume_window_seconds: z.number().nonnegative().default(60),
      max_pending_requests_per_device: z.number().int().positive().default(
        1024,
      ),
      handshake_timeout_seconds: seconds.default(10),
    }).prefault({}),
    request: z.strictObject({
      default_timeout_seconds: seconds.default(30),
      max_timeout_seconds: seconds.default(300),
      max_payload_bytes: z.number().int().positive().default(4 * 1024 * 1024),
      max_in_flight_per_stream: z.number().int().positive().default(1024),
    }).prefault({}),
    idempotency: z.strictObject({
      ttl_seconds: seconds.default(300),
      max_entries: z.number().int().positive().default(100000),
      /** Bound on cached response payload bytes (LRU eviction). */
      max_bytes: z.number().int().positive().default(64 * 1024 * 1024),
    }).prefault({}),
    tls: z.strictObject({
      enabled: z.boolean().default(true),
      cert_path: z.string().default(""),
      key_path: z.string().default(""),
      /** CA written for clients; with a configured certificate, optional. */
      ca_path: z.string().default(""),
    }).prefault({}),
    auth: z.strictObject({
      jwt: z.strictObject({
        /** Empty: a random secret is generated into the state directory. */
        hs256_secret: z.string().default(""),
        issuer: z.string().min(1).default("grpc-relay"),
        audience: z.string().min(1).default("grpc-relay-controller"),
        clock_skew_seconds: z.number().nonnegative().default(30),
      }).prefault({}),
    }).prefault({}),
  }).prefault({}),
  observability: z.strictObject({
    logging: z.strictObject({
      level: z.enum(["debug", "info", "warn", "error"]).default("info"),
      format: z.enum(["json", "text"]).default("json"),
    }).prefault({}),
    health: z.strictObject({
      enabled: z.boolean().default(true),
      address: address.default("0.0.0.0:8080"),
      path: z.string().startsWith("/").default("/health"),
    }).prefault({}),
  }).prefault({}),
}).superRefine((config, ctx) => {
  const { presence, request } = config.relay;
  if (presence.offline_after_seconds <= presence.suspect_after_seconds) {
    ctx.addIssue({
      code: "custom",
      path: ["relay", "presence", "offline_after_seconds"],
      message: "must be greater than relay.presence.suspect_after_seconds",
    });
  }
  if (request.max_timeout_seconds < request.default_timeout_seconds) {
    ctx.addIssue({
      code: "custom",
      path: ["relay", "request", "max_timeout_seconds"],
      message: "must be at least relay.request.default_timeout_seconds",
    });
  }
  const tls = config.relay.tls;
  if ((tls.cert_path === "") !== (tls.key_path === "")) {
    ctx.addIssue({
      code: "custom",
      path: ["relay", "tls", tls.cert_path === "" ? "cert_path" : "key_path"],
      message:
        "relay.tls.cert_path and relay.tls.key_path must be set together",
    });
  }
});

export type RelayConfig = z.infer<typeof configSchema>;
/** Deep-partial input accepted by loadConfig (what a YAML file may contain). */
export type RelayConfigInput = z.input<typeof configSchema>;
