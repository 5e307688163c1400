// The relay's rate limits (config relay.rate_limits): for each of requests,
// connections and bytes, a bucket per device, one per controller and one for
// the whole relay. A check is all-or-nothing: when one bucket refuses, tokens
// already taken from the others are given back, so a refused call costs the
// caller's other quotas nothing.
import type { RelayConfig } from "../config/config_schema.ts";
import { RelayError } from "../errors/relay_error.ts";
import { KeyedRateLimiter } from "./keyed_rate_limiter.ts";
import { TokenBucket } from "./token_bucket.ts";

export type RateLimitsConfig = RelayConfig["relay"]["rate_limits"];
export type LimitKind = "requests" | "connections" | "bytes";
export type LimitScope = "device" | "controller" | "global";
/** Which bucket refused: "requests.device", "bytes.global", ... */
export type LimitName = `${LimitKind}.${LimitScope}`;

export interface RateLimitHit {
  limit: LimitName;
  /** Until the refusing bucket could admit the same call; Infinity if it never can. */
  retryAfterMs: number;
}

export interface BucketCount {
  kind: LimitKind;
  scope: "device" | "controller";
  count: number;
}

export interface RateLimitsOptions {
  /** Milliseconds, monotonic by default. */
  now?: () => number;
}

/** A global bucket and a keyed limiter seen the same way (the key is ignored for the former). */
interface Gate {
  tryTake(key: string, n: number): boolean;
  give(key: string, n: number): void;
  charge(key: string, n: number): void;
  retryAfterMs(key: string, n: number): number;
}

interface Check {
  limit: LimitName;
  gate: Gate;
  key: string;
  n: number;
}

class ScopedLimits {
  readonly device: KeyedRateLimiter;
  readonly controller: KeyedRateLimiter;
  readonly global: Gate;

  constructor(
    section: RateLimitsConfig[LimitKind],
    config: RateLimitsConfig,
    now: () => number,
  ) {
    const keyed = (bucket: { per_second: number; burst: number }) =>
      new KeyedRateLimiter({
        perSecond: bucket.per_second,
        burst: bucket.burst,
        idleMs: config.idle_seconds * 1000,
        maxKeys: config.max_buckets,
        now,
      });
    this.device = keyed(section.device);
    this.controller = keyed(section.controller);
    const global = new TokenBucket({
      perSecond: section.global.per_second,
      burst: section.global.burst,
      now,
    });
    this.global = {
      tryTake: (_key, n) => global.tryTake(n),
      give: (_key, n) => global.give(n),
      charge: (_key, n) => global.charge(n),
      retryAfterMs: (_key, n) => global.retryAfterMs(n),
    };
  }
}

const KINDS: readonly LimitKind[] = ["requests", "connections", "bytes"];

/** What one controller took here since the last report (a cluster shares it). */
export interface ControllerUsage {
  controllerId: string;
  requests: number;
  bytes: number;
}

export class RateLimits {
  readonly enabled: boolean;
  readonly #limits: Record<LimitKind, ScopedLimits>;
  readonly #maxBuckets: number;
  /** Per-controller takes to report to the cluster; undefined when not shared. */
  #usage: Map<string, ControllerUsage> | undefined;

  constructor(config: RateLimitsConfig, options: RateLimitsOptions = {}) {
    const now = options.now ?? (() => performance.now());
    this.enabled = config.enabled;
    this.#maxBuckets = config.max_buckets;
    this.#limits = {
      requests: new ScopedLimits(config.requests, config, now),
      connections: new ScopedLimits(config.connections, config, now),
      bytes: new ScopedLimits(config.bytes, config, now),
    };
  }

  /** One request of `payloadBytes` from a controller to a device. */
  admitRequest(
    controllerId: string,
    deviceId: string,
    payloadBytes: number,
  ): RateLimitHit | undefined {
    if (!this.enabled) return undefined;
    // Bytes are checked even for an empty payload: a bucket in debt from
    // earlier responses refuses everything until it has refilled.
    const hit = this.#admit([
      ...this.#checks("requests", controllerId, deviceId, 1),
      ...this.#checks("bytes", controllerId, deviceId, payloadBytes),
    ]);
    if (hit === undefined) this.#record(controllerId, 1, payloadBytes);
    return hit;
  }

  /**
   * From now on, remembers what each controller takes (requests and bytes),
   * for `takeControllerUsage`: relays of a cluster tell each other, so that a
   * controller spread over several relays is held to about its limits.
   */
  shareControllerUsage(): void {
    if (this.enabled) this.#usage ??= new Map();
  }

  /** What controllers took since the last call (at most max_buckets of them). */
  takeControllerUsage(): ControllerUsage[] {
    if (this.#usage === undefined || this.#usage.size === 0) return [];
    const usage = [...this.#usage.values()];
    this.#usage.clear();
    return usage;
  }

  /** What a controller took on another relay: charged here too, into debt if need be. */
  chargeControllerUsage(usage: ControllerUsage): void {
    if (!this.enabled) return;
    if (usage.requests > 0) {
      this.#limits.requests.controller.charge(
        usage.controllerId,
        usage.requests,
      );
    }
    if (usage.bytes > 0) {
      this.#limits.bytes.controller.charge(usage.controllerId, usage.bytes);
    }
  }

  /**
   * One publication of `payloadBytes` from a device through its relay
   * connection: the requests and bytes limits, with device buckets of their
   * own (a device's publications and the requests sent to it do not share a
   * budget) and the global buckets shared with requests.
   */
  admitDevicePublish(
    deviceId: string,
    payloadBytes: number,
  ): RateLimitHit | undefined {
    if (!this.enabled) return undefined;
    const key = `publish:${deviceId}`;
    const { requests, bytes } = this.#limits;
    return this.#admit([
      check("requests.device", requests.device, key, 1),
      check("requests.global", requests.global, "", 1),
      check("bytes.device", bytes.device, key, payloadBytes),
      check("bytes.global", bytes.global, "", payloadBytes),
    ]);
  }

  /** A device registration (new or resumed connection). */
  admitDeviceConnection(deviceId: string): RateLimitHit | undefined {
    if (!this.enabled) return undefined;
    const connections = this.#limits.connections;
    return this.#admit([
      check("connections.device", connections.device, deviceId, 1),
      check("connections.global", connections.global, "", 1),
    ]);
  }

  /** A new controller stream (ConnectToDevice, WebTransport session). */
  admitControllerStream(controllerId: string): RateLimitHit | undefined {
    if (!this.enabled) return undefined;
    const connections = this.#limits.connections;
    return this.#admit([
      check("connections.controller", connections.controller, controllerId, 1),
      check("connections.global", connections.global, "", 1),
    ]);
  }

  /** Response bytes already received: charged even into debt, paid by later requests. */
  chargeResponseBytes(
    controllerId: string,
    deviceId: string,
    bytes: number,
  ): void {
    if (!this.enabled || bytes <= 0) return;
    const limits = this.#limits.bytes;
    limits.controller.charge(controllerId, bytes);
    this.#record(controllerId, 0, bytes);
    limits.device.charge(deviceId, bytes);
    limits.global.charge("", bytes);
  }

  /** Per-caller buckets held, for a gauge (labels from closed sets). */
  bucketCounts(): BucketCount[] {
    return KINDS.flatMap((kind) => [
      { kind, scope: "device", count: this.#limits[kind].device.size },
      { kind, scope: "controller", count: this.#limits[kind].controller.size },
    ]);
  }

  #record(controllerId: string, requests: number, bytes: number): void {
    const usage = this.#usage;
    if (usage === undefined) return;
    const entry = usage.get(controllerId);
    if (entry !== undefined) {
      entry.requests += requests;
      entry.bytes += bytes;
    } else if (usage.size < this.#maxBuckets) {
      usage.set(controllerId, { controllerId, requests, bytes });
    }
  }

  #checks(
    kind: LimitKind,
    controllerId: string,
    deviceId: string,
    n: number,
  ): Check[] {
    const limits = this.#limits[kind];
    return [
      check(`${kind}.controller`, limits.controller, controllerId, n),
      check(`${kind}.device`, limits.device, deviceId, n),
      check(`${kind}.global`, limits.global, "", n),
    ];
  }

  #admit(checks: Check[]): RateLimitHit | undefined {
    for (let i = 0; i < checks.length; i++) {
      const refused = checks[i]!;
      if (refused.gate.tryTake(refused.key, refused.n)) continue;
      for (const taken of checks.slice(0, i)) {
        taken.gate.give(taken.key, taken.n);
      }
      return {
        limit: refused.limit,
        retryAfterMs: refused.gate.retryAfterMs(refused.key, refused.n),
      };
    }
    return undefined;
  }
}

function check(limit: LimitName, gate: Gate, key: string, n: number): Check {
  return { limit, gate, key, n };
}

/** The error a transport sends for a refused call. */
export function rateLimitedError(hit: RateLimitHit): RelayError {
  if (hit.retryAfterMs === Infinity) {
    return new RelayError(
      "RATE_LIMITED",
      `request is larger than the ${hit.limit} burst`,
      { source: "downstream", retryable: false },
    );
  }
  const seconds = Math.max(0.001, hit.retryAfterMs / 1000);
  return new RelayError(
    "RATE_LIMITED",
    `rate limit ${hit.limit} exceeded; retry in ${seconds.toFixed(3)} s`,
    { source: "downstream" },
  );
}
