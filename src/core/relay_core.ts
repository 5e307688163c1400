// The transport-agnostic relay: adapters hand it device, controller and
// tunnel links and unary calls. It wires the registry, routing, auth,
// revocation and shutdown together; the composition root passes in its ports
// (publisher, topic policy, tunnel service), so the core imports no module
// above it.
import { canDrain, canRevoke, MethodPolicy } from "../auth/access_policy.ts";
import {
  ControllerAuthenticator,
  type ControllerPrincipal,
} from "../auth/controller_auth.ts";
import type { JwtKeys } from "../auth/jwt_keys.ts";
import type { RelayConfig } from "../config/config_schema.ts";
import { RelayError } from "../errors/relay_error.ts";
import type { AuditLogger } from "../observability/audit_log.ts";
import type { Logger } from "../observability/logger.ts";
import { RelayMetrics } from "../observability/relay_metrics.ts";
import type { FleetStore, FleetStoreChange } from "../store/fleet_store.ts";
import { serveControllerLink } from "./controller_stream.ts";
import { serveDeviceLink } from "./device_connection.ts";
import { DevicePublications } from "./device_publish.ts";
import { DeviceRegistry, type PresenceEvent } from "./device_registry.ts";
import { controllerPrincipal, Gatekeeper, type Peer } from "./gatekeeper.ts";
import { IdempotencyCache } from "./idempotency_cache.ts";
import { InputLimits } from "./input_limits.ts";
import type { ControllerLink, DeviceLink, TunnelLink } from "./links.ts";
import { deviceInfo, listOnlineDevices } from "./list_online_devices.ts";
import type { FleetView, RemoteRequest } from "./fleet_view.ts";
import type { PeerRelays } from "./peer_relays.ts";
import { deliverToSession } from "./deliver_to_session.ts";
import { handOverSession, moveDevicesAway } from "./session_moves.ts";
import { PendingAnswers } from "./pending_answers.ts";
import type { Publisher } from "./publisher.ts";
import { recordPresence } from "./record_presence.ts";
import type {
  DataResponse,
  DeviceInfo,
  DrainRequest,
  DrainResponse,
  ListOnlineDevicesRequest,
  RevokeTokenRequest,
  RevokeTokenResponse,
} from "./messages.ts";
import { RequestRouter } from "./request_router.ts";
import { RevocationTracker } from "./revocation_tracker.ts";
import { GrpcCallMetrics } from "../observability/grpc_call_metrics.ts";
import {
  callMany,
  type CallManyRequest,
  type CallManyResult,
} from "./call_many.ts";
import type { GrpcCallLink } from "./grpc_call_link.ts";
import { GrpcCallRouter } from "./grpc_call_router.ts";
import { TokenRevocation } from "./token_revocation.ts";
import type { TopicPolicy } from "./topic_policy.ts";
import type { TunnelContext, TunnelPort } from "./tunnel_port.ts";

/** How long answers to requests failed at shutdown get to be written. */
const ANSWER_FLUSH_MS = 500;
/** CallMany's calls in flight at once, unless the request asks for fewer or more. */
const CALL_MANY_DEFAULT_CONCURRENCY = 32;
const CALL_MANY_MAX_CONCURRENCY = 256;

export interface RelayCoreOptions<Tunnels extends TunnelPort = TunnelPort> {
  config: RelayConfig;
  store: FleetStore;
  /** The devices other relays of the cluster hold (none for a relay alone). */
  fleetView?: FleetView;
  /** Transparent calls for devices other relays hold go there. */
  peerRelays?: PeerRelays;
  jwtKeys: JwtKeys;
  logger: Logger;
  audit: AuditLogger;
  now?: () => number;
  onPresence?: (event: PresenceEvent) => void;
  /** Republishes device publications on MQTT; absent while MQTT is off. */
  publisher?: Publisher;
  /** Which topics a device may publish to (relay.mqtt.acl), MQTT on or off. */
  topicPolicy: TopicPolicy;
  /** Builds the tunnel service (src/tunnel) from what the core gives it. */
  tunnels: (context: TunnelContext) => Tunnels;
  /** An admin asked for a drain (the Drain RPC): drain and stop the relay. */
  onDrainRequested?: (timeoutMs: number) => void;
}

/**
 * `Tunnels` is the tunnel service's own type, so that the composition root
 * can register handlers on `core.tunnels`.
 */
export class RelayCore<Tunnels extends TunnelPort = TunnelPort> {
  readonly metrics: RelayMetrics;
  readonly registry: DeviceRegistry;
  readonly router: RequestRouter;
  readonly auth: ControllerAuthenticator;
  readonly gate: Gatekeeper;
  /** Tunnel streams (e.g. MQTT); handlers per kind are registered by the composition root. */
  readonly tunnels: Tunnels;
  /** Transparent gRPC calls to devices' own servers (and CallMany's calls). */
  readonly grpcCalls: GrpcCallRouter;
  readonly #config: RelayConfig;
  readonly #store: FleetStore;
  readonly #fleetView: FleetView | undefined;
  readonly #logger: Logger;
  readonly #inputLimits: InputLimits;
  readonly #publications: DevicePublications;
  readonly #idempotency: IdempotencyCache;
  /** Open controller streams by credential, for revocation and shutdown. */
  readonly #streams = new RevocationTracker();
  readonly #revocation: TokenRevocation;
  /** Answers being routed or written, so shutdown can let them finish. */
  readonly #answers = new PendingAnswers();
  #advertisedAddress: string;
  /** Devices told to move; no new devices or controller streams. */
  #draining = false;
  /** Shutting down: no new work at all. */
  #stopping = false;
  readonly #onDrainRequested: ((timeoutMs: number) => void) | undefined;

  constructor(options: RelayCoreOptions<Tunnels>) {
    const { config, logger } = options;
    const relay = config.relay;
    this.#config = config;
    this.#store = options.store;
    this.#fleetView = options.fleetView;
    this.#logger = logger;
    this.#advertisedAddress = relay.advertise_address || relay.address;
    this.#onDrainRequested = options.onDrainRequested;
    const now = options.now ?? Date.now;
    this.metrics = new RelayMetrics(() => this.registry.list());
    this.gate = new Gatekeeper({
      config,
      audit: options.audit,
      metrics: this.metrics,
      logger,
      now,
    });
    this.registry = new DeviceRegistry({
      suspectAfterMs: relay.presence.suspect_after_seconds * 1000,
      offlineAfterMs: relay.presence.offline_after_seconds * 1000,
      resumeWindowMs: relay.session.resume_window_seconds * 1000,
      maxPendingPerDevice: relay.session.max_pending_requests_per_device,
      maxDevices: relay.max_device_connections,
      now,
      ...(options.fleetView
        ? {
          sessionElsewhere: (deviceId: string, connectionId: string) =>
            options.fleetView!.sessionElsewhere(deviceId, connectionId),
        }
        : {}),
      onEvent: (event) => {
        recordPresence(event, {
          metrics: this.metrics,
          gate: this.gate,
          logger,
        });
        options.onPresence?.(event);
      },
    });
    this.auth = new ControllerAuthenticator({
      keys: options.jwtKeys,
      issuer: relay.auth.jwt.issuer,
      audience: relay.auth.jwt.audience,
      clockSkewSeconds: relay.auth.jwt.clock_skew_seconds,
      isRevoked: (principal) =>
        this.#store.isTokenRevoked(principal.tokenHash) ||
        (principal.jti !== "" && this.#store.isJtiRevoked(principal.jti)),
      now,
    });
    this.#inputLimits = new InputLimits(relay.limits);
    this.#publications = new DevicePublications({
      topicPolicy: options.topicPolicy,
      publisher: options.publisher,
      gate: this.gate,
      logger,
      // Larger messages never get past the transports anyway.
      maxPayloadBytes: Math.min(
        relay.limits.max_publish_payload_bytes,
        relay.request.max_payload_bytes,
      ),
      registry: this.metrics.registry,
    });
    this.#idempotency = new IdempotencyCache({
      ttlMs: relay.idempotency.ttl_seconds * 1000,
      maxEntries: relay.idempotency.max_entries,
      maxBytes: relay.idempotency.max_bytes,
      now,
    });
    this.metrics.watchIdempotencyCache(this.#idempotency);
    this.router = new RequestRouter({
      registry: this.registry,
      lookupDeviceProject: (id) => this.#store.getDevice(id)?.project,
      idempotency: this.#idempotency,
      metrics: this.metrics,
      defaultTimeoutMs: relay.request.default_timeout_seconds * 1000,
      maxTimeoutMs: relay.request.max_timeout_seconds * 1000,
      maxPayloadBytes: relay.request.max_payload_bytes,
      methodPolicy: new MethodPolicy(relay.auth.roles),
      inputLimits: this.#inputLimits,
      gate: this.gate,
      ...(options.fleetView ? { fleet: options.fleetView } : {}),
    });
    this.grpcCalls = new GrpcCallRouter({
      registry: this.registry,
      lookupDeviceProject: (id) => this.#store.getDevice(id)?.project,
      methodPolicy: new MethodPolicy(relay.auth.roles),
      inputLimits: this.#inputLimits,
      gate: this.gate,
      metrics: new GrpcCallMetrics(this.metrics.registry),
      logger,
      principalOf: (peer, token) => this.#principal(peer, token, ""),
      track: (principal, call) => this.#streams.track(principal, call),
      untrack: (call) => this.#streams.untrack(call),
      // Calls keep coming for devices still here while they move.
      isDraining: () => this.#stopping,
      attachTimeoutMs: relay.session.handshake_timeout_seconds * 1000,
      maxMessageBytes: relay.request.max_payload_bytes,
      fleet: options.fleetView,
      peers: options.peerRelays,
    });
    this.tunnels = options.tunnels({
      gate: this.gate,
      verifyCredential: (id, credential) =>
        this.#store.verifyDeviceCredential(id, credential),
      metrics: this.metrics,
      logger,
      handshakeTimeoutMs: relay.session.handshake_timeout_seconds * 1000,
      // Devices still here open call tunnels while they move.
      isDraining: () => this.#stopping,
    });
    this.#revocation = new TokenRevocation({
      store: this.#store,
      registry: this.registry,
      tunnels: this.tunnels,
      streams: this.#streams,
    });
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Adapters call this once they know the bound address (e.g. port 0 in tests). */
  setAdvertisedAddress(address: string): void {
    if (this.#config.relay.advertise_address === "") {
      this.#advertisedAddress = address;
    }
  }

  acceptDevice(link: DeviceLink): Promise<void> {
    return serveDeviceLink(link, {
      registry: this.registry,
      verifyCredential: (id, credential) =>
        this.#store.verifyDeviceCredential(id, credential),
      metrics: this.metrics,
      logger: this.#logger,
      gate: this.gate,
      heartbeatIntervalMs: this.#config.relay.heartbeat_interval_seconds * 1000,
      handshakeTimeoutMs: this.#config.relay.session.handshake_timeout_seconds *
        1000,
      inputLimits: this.#inputLimits,
      isDraining: () => this.#draining,
      publications: this.#publications,
    });
  }

  acceptTunnel(link: TunnelLink): Promise<void> {
    return this.tunnels.accept(link);
  }

  acceptController(link: ControllerLink): Promise<void> {
    if (this.#draining) {
      link.close(
        new RelayError(
          "UNAVAILABLE",
          this.#stopping ? "relay is shutting down" : "relay is draining",
        ),
      );
      return Promise.resolve();
    }
    return serveControllerLink(link, {
      auth: this.auth,
      router: this.router,
      metrics: this.metrics,
      logger: this.#logger,
      gate: this.gate,
      maxInFlight: this.#config.relay.request.max_in_flight_per_stream,
      track: (principal, tracked) => this.#streams.track(principal, tracked),
      untrack: (tracked) => this.#streams.untrack(tracked),
      trackAnswer: (answer) => this.#answers.add(answer),
    });
  }

  /** Serves one transparent gRPC call (a call that names a device in `relay-device-id`). */
  acceptGrpcCall(link: GrpcCallLink): Promise<void> {
    return this.grpcCalls.serve(link);
  }

  /** CallMany: one result per target device, as each call completes. */
  async *callMany(
    peer: Peer,
    bearerToken: string,
    request: CallManyRequest,
    signal: AbortSignal,
  ): AsyncGenerator<CallManyResult> {
    const token = bearerToken || request.token;
    const principal = await this.#principal(peer, token, request.controller_id);
    this.#inputLimits.checkMetadata(request.label_selector, "label_selector");
    const relay = this.#config.relay;
    yield* callMany(principal, request, { peer, signal, bearerToken: token }, {
      router: this.grpcCalls,
      sessions: () => this.registry.list(),
      remoteDevices: () => this.#fleetView?.remoteDevices() ?? [],
      defaultTimeoutMs: relay.request.default_timeout_seconds * 1000,
      maxTimeoutMs: relay.request.max_timeout_seconds * 1000,
      defaultConcurrency: CALL_MANY_DEFAULT_CONCURRENCY,
      maxConcurrency: CALL_MANY_MAX_CONCURRENCY,
      maxTargets: relay.max_device_connections,
    });
  }

  async listDevices(
    peer: Peer,
    bearerToken: string,
    request: ListOnlineDevicesRequest,
  ): Promise<DeviceInfo[]> {
    const principal = await this.#principal(
      peer,
      bearerToken || request.token,
      request.controller_id,
    );
    this.#inputLimits.checkMetadata(request.label_filter, "label_filter");
    return listOnlineDevices(this.registry.list(), request, {
      principal,
      relayAddress: this.#advertisedAddress,
      remote: this.#fleetView?.remoteDevices() ?? [],
    });
  }

  async revokeToken(
    peer: Peer,
    bearerToken: string,
    request: RevokeTokenRequest,
  ): Promise<RevokeTokenResponse> {
    const principal = await this.#principal(
      peer,
      bearerToken || request.admin_token,
      request.controller_id,
    );
    if (!canRevoke(principal)) {
      const error = new RelayError(
        "PERMISSION_DENIED",
        "only admins may revoke tokens",
        { source: "downstream" },
      );
      this.gate.denied(peer, principal, error);
      throw error;
    }
    const { revokedKey, closed } = await this.#revocation.revoke(request);
    this.#logger.info("token revoked", {
      by: principal.controllerId,
      target_type: String(request.target_type),
      target: revokedKey,
      closed_streams: closed,
    });
    this.gate.revoked(peer, principal, revokedKey, closed);
    return { revoked: true, closed_streams: closed };
  }

  /** This relay's session of the device as DeviceInfo; undefined when it holds none. */
  deviceInfo(deviceId: string): DeviceInfo | undefined {
    const session = this.registry.get(deviceId);
    return session && deviceInfo(session, this.#advertisedAddress);
  }

  /**
   * A request another relay of the cluster forwarded for a device this relay
   * holds (it authorized and admitted it): the device's answer, or rejects
   * with the RelayError that ended it (DEVICE_OFFLINE when it is not here).
   */
  deliverForCluster(
    request: RemoteRequest,
    signal: AbortSignal,
  ): Promise<DataResponse> {
    const session = this.registry.get(request.deviceId);
    if (session === undefined || this.#stopping) {
      return Promise.reject(
        new RelayError("DEVICE_OFFLINE", "device is not connected"),
      );
    }
    const { deviceId: _, timeoutMs, ...delivery } = request;
    const maxMs = this.#config.relay.request.max_timeout_seconds * 1000;
    return deliverToSession(
      session,
      delivery,
      Math.min(timeoutMs, maxMs),
      signal,
    );
  }

  /** The device resumed session `connectionId` on relay `toRelay`: see handOverSession. */
  handOver(deviceId: string, connectionId: string, toRelay: string): void {
    handOverSession(this.registry, this.#fleetView, this.#logger, {
      deviceId,
      connectionId,
      toRelay,
    });
  }

  /** The Drain RPC: an admin asks this relay to drain, then stop. */
  async requestDrain(
    peer: Peer,
    bearerToken: string,
    request: DrainRequest,
  ): Promise<DrainResponse> {
    const principal = await this.#principal(
      peer,
      bearerToken || request.admin_token,
      request.controller_id,
    );
    if (!canDrain(principal)) {
      const error = new RelayError(
        "PERMISSION_DENIED",
        "only admins may drain a relay",
        { source: "downstream" },
      );
      this.gate.denied(peer, principal, error);
      throw error;
    }
    if (this.#onDrainRequested === undefined) {
      throw new RelayError("UNAVAILABLE", "this relay cannot be drained");
    }
    const timeoutMs = request.timeout_seconds > 0
      ? request.timeout_seconds * 1000
      : this.#config.relay.cluster.drain_timeout_seconds * 1000;
    this.#logger.info("drain requested", { by: principal.controllerId });
    const devices = this.registry.size;
    this.#onDrainRequested(timeoutMs);
    return { devices };
  }

  /**
   * Drain: stop taking new devices and controller streams, tell every
   * device here to move to another live relay of the cluster (spread over
   * them), and wait until they have (their sessions and waiting requests
   * handed over) or `timeoutMs` passed. Resolves with the devices told to
   * move; at once with 0 for a relay alone or the last relay standing.
   */
  async drain(
    timeoutMs = this.#config.relay.cluster.drain_timeout_seconds * 1000,
  ): Promise<number> {
    if (this.#draining) return 0;
    this.#draining = true;
    return await moveDevicesAway(
      this.registry,
      this.#fleetView,
      this.#logger,
      timeoutMs,
    );
  }

  /** Every session this relay holds, as DeviceInfo. */
  localDevices(): DeviceInfo[] {
    return this.registry.list().map((session) =>
      deviceInfo(session, this.#advertisedAddress)
    );
  }

  /** A change another relay of the cluster made: end the streams it revoked here. */
  applyClusterChange(change: FleetStoreChange): void {
    const closed = this.#revocation.applyRemote(change);
    if (closed > 0) {
      this.#logger.info("revocation from the cluster applied", {
        kind: change.kind,
        closed_streams: closed,
      });
    }
  }

  /**
   * Graceful shutdown: refuse new work, let in-flight requests finish within
   * the grace period, then fail what is left and close device streams.
   */
  async shutdown(
    graceMs = this.#config.relay.shutdown_grace_seconds * 1000,
  ): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#draining = true;
    this.router.drain();
    const deadline = Date.now() + graceMs;
    await this.#answers.settled(deadline);
    const closing = new RelayError("UNAVAILABLE", "relay is shutting down");
    for (const session of this.registry.list()) {
      this.registry.evict(session.deviceId, "relay_shutdown", closing, closing);
    }
    // The failed requests' answers go out before their streams close.
    await this.#answers.settled(Date.now() + ANSWER_FLUSH_MS);
    this.#streams.closeAll(closing);
    await this.tunnels.closeAll(closing);
    this.registry.close();
    this.#idempotency.close();
    await this.gate.close();
  }

  async #principal(
    peer: Peer,
    token: string,
    claimedId: string,
  ): Promise<ControllerPrincipal> {
    this.gate.checkNotBlocked(peer);
    let principal;
    try {
      principal = await this.auth.verify(token);
    } catch (error) {
      const reason = RelayError.from(error).message;
      this.gate.authFailed(peer, "", reason, "controller");
      throw error;
    }
    this.gate.authSucceeded(
      peer,
      controllerPrincipal(principal),
      principal.role,
    );
    if (claimedId !== "" && claimedId !== principal.controllerId) {
      throw new RelayError(
        "UNAUTHORIZED",
        "controller_id does not match the token",
        {
          source: "downstream",
        },
      );
    }
    return principal;
  }
}
