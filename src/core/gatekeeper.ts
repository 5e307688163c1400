// Admission and accountability for everything that reaches the relay: rate
// limits, blocking of source addresses with repeated authentication
// failures, and the audit trail of who was let in or refused. The relay core
// and the transports ask it; it never sees payloads.
import type { ControllerPrincipal } from "../auth/controller_auth.ts";
import type { RelayConfig } from "../config/config_schema.ts";
import { hostOf } from "../config/host_port.ts";
import { RelayError } from "../errors/relay_error.ts";
import { FailureTracker } from "../limits/failure_tracker.ts";
import {
  rateLimitedError,
  type RateLimitHit,
  RateLimits,
} from "../limits/rate_limits.ts";
import type {
  AuditLogger,
  AuditPrincipal,
  AuditRecord,
  AuditTransport,
} from "../observability/audit_log.ts";
import type { Logger } from "../observability/logger.ts";
import type { RelayMetrics } from "../observability/relay_metrics.ts";
import { Counter, Gauge } from "prom-client";

/** Where a connection or stream comes from. */
export interface Peer {
  readonly remoteAddress: string;
  readonly transport: string;
}

export interface GatekeeperOptions {
  config: RelayConfig;
  audit: AuditLogger;
  metrics: RelayMetrics;
  logger: Logger;
  now?: () => number;
}

export class Gatekeeper {
  readonly limits: RateLimits;
  readonly audit: AuditLogger;
  readonly #failures: FailureTracker;
  readonly #metrics: RelayMetrics;
  readonly #logger: Logger;
  readonly #rateLimitHits: Counter<"limit">;
  readonly #refused: Counter<"reason">;

  constructor(options: GatekeeperOptions) {
    const { config, metrics } = options;
    const relay = config.relay;
    this.audit = options.audit;
    this.#metrics = metrics;
    this.#logger = options.logger;
    this.limits = new RateLimits(
      relay.rate_limits,
      options.now ? { now: options.now } : {},
    );
    this.#failures = new FailureTracker({
      maxFailures: relay.auth.max_failures_per_address,
      windowMs: relay.auth.failure_window_seconds * 1000,
      blockMs: relay.auth.block_seconds * 1000,
      maxKeys: relay.rate_limits.max_buckets,
      ...(options.now ? { now: options.now } : {}),
    });
    const registers = [metrics.registry];
    this.#rateLimitHits = new Counter({
      name: "relay_rate_limit_hits_total",
      help: "Requests, connections and bytes refused by a rate limit",
      labelNames: ["limit"],
      registers,
    });
    this.#refused = new Counter({
      name: "relay_connections_refused_total",
      help: "Connections and streams refused before authentication",
      labelNames: ["reason"],
      registers,
    });
    const limits = this.limits;
    new Gauge({
      name: "relay_rate_limit_buckets",
      help: "Token buckets held in memory (bounded by rate_limits.max_buckets)",
      labelNames: ["kind", "scope"],
      registers,
      collect() {
        for (const { kind, scope, count } of limits.bucketCounts()) {
          this.set({ kind, scope }, count);
        }
      },
    });
    const audit = this.audit;
    new Gauge({
      name: "relay_audit_records_dropped",
      help: "Audit records lost (queue full or write failure) since start",
      registers,
      collect() {
        this.set(audit.dropped);
      },
    });
  }

  /** Throws RATE_LIMITED when the source address is blocked after repeated auth failures. */
  checkNotBlocked(peer: Peer): void {
    const host = sourceHost(peer.remoteAddress);
    if (!this.#failures.isBlocked(host)) return;
    this.#refused.inc({ reason: "blocked_address" });
    this.#record({
      event: "connection_refused",
      peer,
      principal: "",
      reason: "too many failed authentications",
    });
    const seconds = this.#failures.retryAfterMs(host) / 1000;
    throw new RelayError(
      "RATE_LIMITED",
      `too many failed authentications from this address; retry in ${
        seconds.toFixed(1)
      } s`,
      { source: "downstream" },
    );
  }

  /** A connection refused because max_pending_handshakes were under way (not audited: load, not identity). */
  handshakeShed(): void {
    this.#refused.inc({ reason: "handshakes_pending" });
    this.#logger.debug("connection refused", {
      reason: "max_pending_handshakes connections already in their handshake",
    });
  }

  /**
   * Handshake timeouts on a connection with no credentials yet. Audited, but
   * not counted towards blocking the address: a relay slowed down by a
   * reconnect storm times out honest devices too, and blocking their shared
   * (NAT) address would lock the whole site out. The timeout and the
   * connection rate limits already bound what a slow client can hold.
   */
  handshakeTimedOut(peer: Peer, what: string): void {
    this.#refused.inc({ reason: "handshake_timeout" });
    this.#logger.debug("connection closed", {
      remote: peer.remoteAddress,
      transport: peer.transport,
      reason: `${what} within the handshake timeout`,
    });
    this.#record({
      event: "auth_failure",
      peer,
      principal: "",
      reason: `${what} within the handshake timeout`,
      code: "UNAUTHORIZED",
    });
  }

  /**
   * A TLS handshake that failed or timed out (before any identity): counted
   * and logged at debug, so a client that never gets through is visible.
   */
  tlsFailed(peer: Peer, reason: string): void {
    this.#refused.inc({ reason: "tls_failed" });
    this.#logger.debug("connection closed", {
      remote: peer.remoteAddress,
      transport: peer.transport,
      reason: `TLS handshake failed: ${reason}`,
    });
  }

  authSucceeded(peer: Peer, principal: AuditPrincipal, role?: string): void {
    this.#record({ event: "auth_success", peer, principal, role });
  }

  authFailed(
    peer: Peer,
    principal: AuditPrincipal,
    reason: string,
    kind: "device" | "controller" = principal.startsWith("device:")
      ? "device"
      : "controller",
  ): void {
    this.#metrics.authFailures.inc({ principal: kind });
    const blocked = this.#failures.recordFailure(
      sourceHost(peer.remoteAddress),
    );
    this.#record({
      event: "auth_failure",
      peer,
      principal,
      reason,
      code: "UNAUTHORIZED",
    });
    if (blocked) {
      this.#logger.warn("source address blocked after failed authentications", {
        remote: sourceHost(peer.remoteAddress),
      });
    }
  }

  denied(
    peer: Peer,
    principal: ControllerPrincipal,
    error: RelayError,
    deviceId?: string,
  ): void {
    this.#record({
      event: "access_denied",
      peer,
      principal: controllerPrincipal(principal),
      role: principal.role,
      device_id: deviceId,
      reason: error.message,
      code: error.code,
    });
  }

  /** A device publication refused by the topic ACL. */
  publishDenied(peer: Peer, deviceId: string, error: RelayError): void {
    this.#record({
      event: "access_denied",
      peer,
      principal: `device:${deviceId}`,
      device_id: deviceId,
      reason: error.message,
      code: error.code,
    });
  }

  revoked(
    peer: Peer,
    principal: ControllerPrincipal,
    target: string,
    closedStreams: number,
  ): void {
    this.#record({
      event: "token_revoked",
      peer,
      principal: controllerPrincipal(principal),
      role: principal.role,
      reason: `${target} (${closedStreams} open streams closed)`,
    });
  }

  deviceConnected(peer: Peer, deviceId: string, resumed: boolean): void {
    this.#record({
      event: "device_connected",
      peer,
      principal: `device:${deviceId}`,
      device_id: deviceId,
      reason: resumed ? "resumed" : "new session",
    });
  }

  deviceDisconnected(peer: Peer, deviceId: string, reason: string): void {
    this.#record({
      event: "device_disconnected",
      peer,
      principal: `device:${deviceId}`,
      device_id: deviceId,
      reason,
    });
  }

  /** Throws RATE_LIMITED when this device registers too often. */
  admitDeviceConnection(peer: Peer, deviceId: string): void {
    this.#throwIfHit(
      this.limits.admitDeviceConnection(deviceId),
      peer,
      `device:${deviceId}`,
      deviceId,
    );
  }

  /** Throws RATE_LIMITED when this controller opens streams too often. */
  admitControllerStream(peer: Peer, principal: ControllerPrincipal): void {
    this.#throwIfHit(
      this.limits.admitControllerStream(principal.controllerId),
      peer,
      controllerPrincipal(principal),
    );
  }

  /** Throws RATE_LIMITED when a request exceeds a request or bytes bucket. */
  admitRequest(
    peer: Peer,
    principal: ControllerPrincipal,
    deviceId: string,
    payloadBytes: number,
  ): void {
    this.#throwIfHit(
      this.limits.admitRequest(principal.controllerId, deviceId, payloadBytes),
      peer,
      controllerPrincipal(principal),
      deviceId,
    );
  }

  /** Throws RATE_LIMITED when a device publishes too often or too much. */
  admitDevicePublish(peer: Peer, deviceId: string, payloadBytes: number): void {
    this.#throwIfHit(
      this.limits.admitDevicePublish(deviceId, payloadBytes),
      peer,
      `device:${deviceId}`,
      deviceId,
    );
  }

  chargeResponse(
    principal: ControllerPrincipal,
    deviceId: string,
    bytes: number,
  ): void {
    this.limits.chargeResponseBytes(principal.controllerId, deviceId, bytes);
  }

  close(): Promise<void> {
    return this.audit.close();
  }

  #throwIfHit(
    hit: RateLimitHit | undefined,
    peer: Peer,
    principal: AuditPrincipal,
    deviceId?: string,
  ): void {
    if (hit === undefined) return;
    this.#rateLimitHits.inc({ limit: hit.limit });
    const error = rateLimitedError(hit);
    this.#record({
      event: "rate_limited",
      peer,
      principal,
      device_id: deviceId,
      reason: hit.limit,
      code: error.code,
    });
    throw error;
  }

  #record(
    fields: Omit<AuditRecord, "source" | "transport"> & { peer: Peer },
  ): void {
    const { peer, ...record } = fields;
    this.audit.log({
      ...record,
      source: peer.remoteAddress,
      transport: auditTransport(peer.transport),
    });
  }
}

export function controllerPrincipal(
  principal: ControllerPrincipal,
): AuditPrincipal {
  return `controller:${principal.controllerId}`;
}

function auditTransport(transport: string): AuditTransport {
  return transport === "quic" || transport === "h2" ? transport : "http";
}

/** The source address of a peer without its port, IPv4 as IPv4. */
function sourceHost(remoteAddress: string): string {
  // Dual-stack sockets report IPv4 peers as IPv4-mapped IPv6 addresses.
  return hostOf(remoteAddress).replace(
    /^::ffff:(\d+\.\d+\.\d+\.\d+)$/,
    "$1",
  );
}
