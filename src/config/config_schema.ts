// The relay's configuration: one YAML file, keys following the original
// gRPC-Relay config/relay.yaml. Every key has a default and is used somewhere.
import { z } from "zod";
import { hostPortProblem } from "./host_port.ts";

const seconds = z.number().positive();

/** A token bucket: sustained rate and burst; per_second 0 means unlimited. */
const bucket = (perSecond: number, burst: number) =>
  z.strictObject({
    per_second: z.number().nonnegative().default(perSecond),
    burst: z.number().positive().default(burst),
  }).prefault({});

/** Bucket sizes per device, per controller and for the whole relay. */
const scopedBuckets = (
  device: [number, number],
  controller: [number, number],
  global: [number, number],
) =>
  z.strictObject({
    device: bucket(...device),
    controller: bucket(...controller),
    global: bucket(...global),
  }).prefault({});

const MIB = 1024 * 1024;

const jwtAlgorithm = z.enum([
  "ES256",
  "ES384",
  "ES512",
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "EdDSA",
]);
const address = z.string().superRefine((text, ctx) => {
  const problem = hostPortProblem(text);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
});

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
    /**
     * The relay cluster (docs/cluster.md): relays that share their state on
     * NATS. Off while nats_url is empty: the relay runs alone on its SQLite
     * store in state_dir.
     */
    cluster: z.strictObject({
      /** NATS servers, comma-separated: nats://host:4222,nats://other:4222. */
      nats_url: z.string().regex(
        /^$|^(nats|tls):\/\/[^\s,]+(,(nats|tls):\/\/[^\s,]+)*$/,
        "expected nats://host:port (or tls://), comma-separated",
      ).default(""),
      /**
       * TLS to NATS: the CA that issued the servers' certificates (empty:
       * the system roots) and a client certificate for servers that verify
       * clients (cert_path and key_path together). Setting ca_path or
       * cert_path requires TLS.
       */
      tls: z.strictObject({
        ca_path: z.string().default(""),
        cert_path: z.string().default(""),
        key_path: z.string().default(""),
      }).prefault({}),
      /** NATS credentials, one kind: a .creds file (JWT and NKey seed), ... */
      creds_path: z.string().default(""),
      /** ... a username with its password, ... */
      username: z.string().default(""),
      password: z.string().default(""),
      /** ... or a token. */
      token: z.string().default(""),
      /** JetStream KV bucket of the shared state. */
      bucket: z.string().regex(/^[A-Za-z0-9_-]+$/).default("relay_state"),
      /** Copies of the bucket: 1, 3 or 5, at most the NATS cluster's size. */
      replicas: z.union([z.literal(1), z.literal(3), z.literal(5)]).default(3),
      /** A relay unheard of this long is gone: its devices leave the fleet view. */
      relay_ttl_seconds: seconds.default(15),
      /**
       * How long a draining relay (SIGTERM, `relay drain`) waits for its
       * devices to move to other relays before it closes what is left.
       */
      drain_timeout_seconds: z.number().nonnegative().default(30),
      /**
       * How often relays tell each other what each controller took from its
       * rate limits (a controller spread over relays is held to about them).
       */
      rate_limit_sync_seconds: seconds.default(1),
      /**
       * Which relays publish a device's MQTT presence: all (each relay's
       * broker shows the whole fleet), holder (relays share one broker),
       * auto (holder with relay.mqtt.broker_address, else all).
       */
      mqtt_presence: z.enum(["auto", "all", "holder"]).default("auto"),
    }).prefault({}),
    /** Development conveniences that are unsafe in production (weak JWT secrets). */
    dev_mode: z.boolean().default(false),
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
      /**
       * TLS handshake, first stream and first message of an unauthenticated
       * connection. gRPC C-core clients (grpcio, grpc-go's peers in C++,
       * ...) whose channel is in TRANSIENT_FAILURE advance a reconnect only
       * at their 5 s backup poll, so their TLS handshake takes 5-10 s as the
       * relay sees it: at 5 s every such attempt after a relay restart was
       * cut off, for minutes.
       */
      handshake_timeout_seconds: seconds.default(15),
      /**
       * Connections per listener in their TLS/QUIC handshake at once; more
       * are refused at once (a storm then spreads by the clients' backoff).
       * Handshakes in flight are arrivals per second times handshake time:
       * the relay completes about 800 a second, and over slow links or from
       * busy clients a handshake takes up to a second, so a lower bound
       * sheds while the relay idles (256 did in the storm bench).
       */
      max_pending_handshakes: z.number().int().positive().default(1024),
    }).prefault({}),
    request: z.strictObject({
      default_timeout_seconds: seconds.default(30),
      max_timeout_seconds: seconds.default(300),
      max_payload_bytes: z.number().int().positive().default(4 * 1024 * 1024),
      max_in_flight_per_stream: z.number().int().positive().default(1024),
    }).prefault({}),
    limits: z.strictObject({
      max_metadata_entries: z.number().int().nonnegative().default(64),
      max_metadata_key_bytes: z.number().int().positive().default(128),
      max_metadata_value_bytes: z.number().int().positive().default(1024),
      max_method_name_bytes: z.number().int().positive().default(256),
      /** Payload of one device publication (status, telemetry) through the relay connection (capped by request.max_payload_bytes). */
      max_publish_payload_bytes: z.number().int().positive().default(
        256 * 1024,
      ),
    }).prefault({}),
    rate_limits: z.strictObject({
      enabled: z.boolean().default(true),
      /** A caller's bucket is forgotten after this long without use (it is full again by then). */
      idle_seconds: seconds.default(60),
      /** Bound on buckets kept per kind; the least recently used go first. */
      max_buckets: z.number().int().positive().default(100000),
      requests: scopedBuckets([2000, 4000], [5000, 10000], [50000, 100000]),
      /** New device registrations / controller streams. */
      connections: scopedBuckets([2, 20], [100, 1000], [2000, 10000]),
      /** Payload bytes: requests charge before sending, responses after. */
      bytes: scopedBuckets(
        [128 * MIB, 256 * MIB],
        [128 * MIB, 256 * MIB],
        [1024 * MIB, 2048 * MIB],
      ),
    }).prefault({}),
    idempotency: z.strictObject({
      ttl_seconds: seconds.default(300),
      max_entries: z.number().int().positive().default(100000),
      /** Bound on buffer bytes cached payloads keep alive (the oldest go first). */
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
        /** Asymmetric verification keys (PEM public key or certificate), algorithm pinned per key. */
        public_keys: z.array(z.strictObject({
          path: z.string().min(1),
          alg: jwtAlgorithm,
          /** Matches the token header's `kid` when set. */
          kid: z.string().default(""),
        })).default([]),
        /** JWKS endpoint (https://...); keys must carry `alg`, or `jwks_algorithms` pins them. */
        jwks_url: z.string().default(""),
        jwks_algorithms: z.array(jwtAlgorithm).default([]),
        jwks_cache_seconds: seconds.default(600),
      }).prefault({}),
      /** Method-name glob patterns each sending role may call. */
      roles: z.strictObject({
        admin: z.strictObject({
          allowed_methods: z.array(z.string().min(1)).default(["*"]),
        }).prefault({}),
        operator: z.strictObject({
          allowed_methods: z.array(z.string().min(1)).default(["*"]),
        }).prefault({}),
      }).prefault({}),
      /** Source addresses with this many failed authentications in the window are refused for block_seconds. */
      max_failures_per_address: z.number().int().positive().default(20),
      failure_window_seconds: seconds.default(60),
      block_seconds: seconds.default(60),
    }).prefault({}),
    mqtt: z.strictObject({
      /** false: no broker, no presence events (devices and controllers unaffected). */
      enabled: z.boolean().default(true),
      /** mqtt://host:1883 or mqtts://host:8883; empty: the embedded aedes broker. */
      broker_address: z.string().regex(
        /^$|^mqtts?:\/\/[^\s/]+(:\d{1,5})?\/?$/,
        "expected mqtt://host[:port] or mqtts://host[:port]",
      ).default(""),
      /** Listener of the embedded broker (only without broker_address). */
      embedded_address: address.default("127.0.0.1:1883"),
      username: z.string().default(""),
      password: z.string().default(""),
      /** Empty: "relay-<relay.id>". */
      client_id: z.string().default(""),
      tls: z.strictObject({
        /** PEM CA for mqtts:// (empty: the system roots). */
        ca_path: z.string().default(""),
        /** Client certificate and key (optional, set together). */
        cert_path: z.string().default(""),
        key_path: z.string().default(""),
      }).prefault({}),
      keepalive_seconds: seconds.default(30),
      reconnect_min_seconds: seconds.default(0.5),
      reconnect_max_seconds: seconds.default(30),
      /** Publications held while the broker is unreachable; beyond, the oldest are dropped and counted. */
      max_queue: z.number().int().positive().default(10000),
      /** Period of telemetry/relay/{relay_id}; 0 turns it off. */
      telemetry_interval_seconds: z.number().nonnegative().default(30),
      /** Topic ACL of device publications and MQTT tunnels; {device_id} is replaced. */
      acl: z.strictObject({
        publish: z.array(z.string().min(1)).default([
          "device/{device_id}/#",
          "telemetry/{device_id}",
          "telemetry/{device_id}/#",
        ]),
        subscribe: z.array(z.string().min(1)).default(["cmd/{device_id}/#"]),
      }).prefault({}),
    }).prefault({}),
    audit: z.strictObject({
      enabled: z.boolean().default(true),
      /** JSON lines file; empty: <state_dir>/audit.log; "-": standard output. */
      path: z.string().default(""),
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
    /** The operator console at /console/ on the health port (docs/console.md). */
    console: z.strictObject({
      enabled: z.boolean().default(true),
      /** How often the 15-minute charts take a sample (180 samples kept at 5 s). */
      sample_interval_seconds: z.number().positive().max(60).default(5),
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
  const bytes = config.relay.rate_limits.bytes;
  for (const scope of ["device", "controller", "global"] as const) {
    if (
      bytes[scope].per_second > 0 &&
      bytes[scope].burst < request.max_payload_bytes
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["relay", "rate_limits", "bytes", scope, "burst"],
        message: "must be at least relay.request.max_payload_bytes",
      });
    }
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
  clusterSecurityIssues(config.relay.cluster, ctx);
});

/** relay.cluster's TLS and credential keys: complete and of one kind. */
function clusterSecurityIssues(
  cluster: {
    tls: { cert_path: string; key_path: string };
    creds_path: string;
    username: string;
    password: string;
    token: string;
  },
  ctx: z.RefinementCtx,
): void {
  const issue = (path: string[], message: string) =>
    ctx.addIssue({
      code: "custom",
      path: ["relay", "cluster", ...path],
      message,
    });
  const { cert_path, key_path } = cluster.tls;
  if ((cert_path === "") !== (key_path === "")) {
    issue(
      ["tls", cert_path === "" ? "cert_path" : "key_path"],
      "relay.cluster.tls.cert_path and relay.cluster.tls.key_path must be set together",
    );
  }
  if ((cluster.username === "") !== (cluster.password === "")) {
    issue(
      [cluster.username === "" ? "username" : "password"],
      "relay.cluster.username and relay.cluster.password must be set together",
    );
  }
  const kinds = [
    cluster.creds_path !== "" && "creds_path",
    cluster.username !== "" && "username",
    cluster.token !== "" && "token",
  ].filter((kind) => kind !== false);
  if (kinds.length > 1) {
    issue(
      [kinds[1]!],
      `set one kind of NATS credentials, not ${
        kinds.map((kind) => `relay.cluster.${kind}`).join(" and ")
      }`,
    );
  }
}

export type RelayConfig = z.infer<typeof configSchema>;
/** Deep-partial input accepted by loadConfig (what a YAML file may contain). */
export type RelayConfigInput = z.input<typeof configSchema>;
