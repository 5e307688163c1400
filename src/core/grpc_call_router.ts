// Transparent gRPC calls: a controller's ordinary gRPC call, or one device's
// share of a CallMany, to the device's own gRPC server. The caller is
// authenticated and authorized like a ConnectToDevice request (same RBAC,
// allow-list on the full method path, rate limits); an unknown device and one
// the caller may not see are answered alike (NOT_FOUND). The call goes on an
// idle GRPC_CALL tunnel of the device when it has one (a `start` frame);
// otherwise the device gets a GrpcCallStart on its control stream and opens a
// tunnel for the call. The tunnel carries the call's messages both ways and,
// when the call ended cleanly, waits for the next one. A device another
// relay of the cluster holds is called through that relay
// (forward_grpc_call.ts): this relay authenticates and authorizes, the
// holder authenticates again and admits the call against the rate limits
// (so a forwarded call is counted once, where the device is).
import type { MethodPolicy } from "../auth/access_policy.ts";
import type { ControllerPrincipal } from "../auth/controller_auth.ts";
import { validateDeviceId } from "../auth/device_id.ts";
import { grpcStatusName, grpcStatusOf } from "../errors/grpc_status.ts";
import { RelayError } from "../errors/relay_error.ts";
import {
  type GrpcCallMetrics,
  OTHER_METHODS,
} from "../observability/grpc_call_metrics.ts";
import type { Logger } from "../observability/logger.ts";
import {
  endSpan,
  type Span,
  SpanKind,
  startSpan,
  traceparentOf,
  withSpan,
} from "../observability/tracing.ts";
import { traceparentIn, withTraceparent } from "../wire/trace_metadata.ts";
import { authorizeDeviceCall } from "./device_access.ts";
import type { DeviceRegistry } from "./device_registry.ts";
import type { Gatekeeper, Peer } from "./gatekeeper.ts";
import type {
  CallTunnel,
  GrpcCallHead,
  GrpcCallLink,
  GrpcStatus,
} from "./grpc_call_link.ts";
import { pipeGrpcCall } from "./grpc_call_pipe.ts";
import { withDeadline } from "../limits/deadline.ts";
import type { InputLimits } from "./input_limits.ts";
import { type AttachedTunnel, PendingCalls } from "./pending_calls.ts";
import { IdleCallTunnels } from "./idle_call_tunnels.ts";
import type { ClosableStream } from "./revocation_tracker.ts";
import type { FleetView } from "./fleet_view.ts";
import { forwardGrpcCall } from "./forward_grpc_call.ts";
import type { PeerRelays } from "./peer_relays.ts";

export interface GrpcCallRouterOptions {
  registry: DeviceRegistry;
  /** Project of a device known to the store (online or not). */
  lookupDeviceProject: (deviceId: string) => string | undefined;
  methodPolicy: MethodPolicy;
  inputLimits: InputLimits;
  gate: Gatekeeper;
  metrics: GrpcCallMetrics;
  logger: Logger;
  /** Authenticates (and audits) a controller token. */
  principalOf: (peer: Peer, token: string) => Promise<ControllerPrincipal>;
  /** Registers an open call under its principal so revocation can end it. */
  track: (principal: ControllerPrincipal, call: ClosableStream) => void;
  untrack: (call: ClosableStream) => void;
  isDraining: () => boolean;
  /** How long a device has to open the tunnel for a call. */
  attachTimeoutMs: number;
  /** Largest message either way (relay.request.max_payload_bytes). */
  maxMessageBytes: number;
  /** The cluster: which relay holds a device this relay does not. */
  fleet?: FleetView | undefined;
  /** Calls for devices other relays hold go there (cluster mode). */
  peers?: PeerRelays | undefined;
}

/** Where a call goes: a device tunnel here, or the relay that holds the device. */
type Route = AttachedTunnel | { holder: string };

/** Tunnels a device keeps open for later calls (about its calls at once). */
const MAX_IDLE_TUNNELS_PER_DEVICE = 8;

/** Path of a gRPC method: "/package.Service/Method". */
const METHOD_PATH = /^\/[^/]+\/[^/]+$/;

export class GrpcCallRouter {
  readonly #options: GrpcCallRouterOptions;
  readonly #pending = new PendingCalls();
  readonly #idle = new IdleCallTunnels(MAX_IDLE_TUNNELS_PER_DEVICE);

  constructor(options: GrpcCallRouterOptions) {
    this.#options = options;
  }

  /** Serves one controller call until its status is sent. */
  async serve(link: GrpcCallLink): Promise<void> {
    const { metrics, track, untrack } = this.#options;
    const started = performance.now();
    let code: string;
    // Paths of unauthenticated callers share one label: they must not use
    // up the bounded set of method labels.
    let methodLabel = OTHER_METHODS;
    const call: ClosableStream = {
      close: (error) =>
        link.fail(
          error ?? new RelayError("UNAVAILABLE", "relay is shutting down"),
        ),
    };
    metrics.active.inc();
    try {
      if (link.deviceId === "") {
        throw new RelayError(
          "METHOD_NOT_FOUND",
          `${link.head.method} is not a relay.v1 method; to call a device's own gRPC service, name the device in relay-device-id metadata`,
          { source: "downstream" },
        );
      }
      const principal = await this.#options.principalOf(
        link,
        link.bearerToken,
      );
      methodLabel = link.head.method;
      track(principal, call);
      const status = await this.#call(principal, link.deviceId, link);
      code = grpcStatusName(status.code);
      link.finish(status);
    } catch (error) {
      const relayError = RelayError.from(error);
      code = grpcStatusName(grpcStatusOf(relayError.code));
      link.fail(relayError);
    } finally {
      untrack(call);
      metrics.active.dec();
    }
    metrics.finished(
      methodLabel,
      code,
      (performance.now() - started) / 1000,
    );
  }

  /**
   * One unary call to one device, without a transport on the controller's
   * side (CallMany): the device server's status and its response message.
   * Rejects with the RelayError that kept the call from completing.
   */
  async callOnce(
    principal: ControllerPrincipal,
    target: {
      deviceId: string;
      head: GrpcCallHead;
      request: Uint8Array;
      /** The caller's token, for a device another relay holds. */
      bearerToken: string;
    },
    peer: Peer,
    signal: AbortSignal,
  ): Promise<{ status: GrpcStatus; response: Uint8Array }> {
    let response: Uint8Array = new Uint8Array(0);
    const link: GrpcCallLink = {
      remoteAddress: peer.remoteAddress,
      transport: peer.transport,
      bearerToken: target.bearerToken,
      deviceId: target.deviceId,
      head: target.head,
      messages: (async function* () {
        yield target.request;
      })(),
      signal,
      sendHeaders: () => {},
      send: (message) => {
        // A unary method answers once; the first message is the answer.
        if (response.byteLength === 0) response = message;
        return Promise.resolve();
      },
      finish: () => {},
      fail: () => {},
    };
    const started = performance.now();
    this.#options.metrics.active.inc();
    let code = "OK";
    try {
      const status = await this.#call(principal, target.deviceId, link);
      code = grpcStatusName(status.code);
      return { status, response };
    } catch (error) {
      code = grpcStatusName(grpcStatusOf(RelayError.from(error).code));
      throw error;
    } finally {
      this.#options.metrics.active.dec();
      this.#options.metrics.finished(
        target.head.method,
        code,
        (performance.now() - started) / 1000,
      );
    }
  }

  /**
   * The device's GRPC_CALL tunnel arrived: joins it to its call. Resolves
   * when the call ends it cleanly, rejects with the error it ends it with.
   */
  attach(tunnel: CallTunnel): Promise<void> {
    return this.#pending.attach(tunnel);
  }

  async #call(
    principal: ControllerPrincipal,
    deviceId: string,
    link: GrpcCallLink,
  ): Promise<GrpcStatus> {
    // The caller's traceparent is the parent; the device's span, our child.
    const span = startSpan("relay.grpc_call", SpanKind.SERVER, {
      "rpc.method": link.head.method,
      "relay.device_id": deviceId,
      "relay.controller_id": principal.controllerId,
    }, traceparentIn(link.head.metadata));
    try {
      const status = await this.#callTraced(principal, deviceId, link, span);
      endSpan(span, grpcStatusName(status.code));
      return status;
    } catch (error) {
      endSpan(span, RelayError.from(error).code);
      throw error;
    }
  }

  async #callTraced(
    principal: ControllerPrincipal,
    deviceId: string,
    link: GrpcCallLink,
    span: Span | undefined,
  ): Promise<GrpcStatus> {
    // What goes on names this relay's span as the parent.
    const head = span === undefined ? link.head : {
      ...link.head,
      metadata: withTraceparent(link.head.metadata, traceparentOf(span)),
    };
    const route = await this.#open(principal, deviceId, link, head, span);
    if ("holder" in route) {
      // Inside the span: Deno's HTTP/2 client span, which replaces the
      // traceparent on the way, is then its child.
      return await forwardGrpcCall(
        link,
        withSpan(span, () =>
          this.#options.peers!.call({
            address: route.holder,
            deviceId,
            bearerToken: link.bearerToken,
            head,
          })),
      );
    }
    const attached = route;
    const { gate, maxMessageBytes } = this.#options;
    // Both directions count against the controller's and device's bytes budgets.
    const charge = (bytes: number) => {
      if (bytes > maxMessageBytes) {
        throw new RelayError(
          "RATE_LIMITED",
          `a message of ${bytes} bytes is more than ${maxMessageBytes} (relay.request.max_payload_bytes)`,
        );
      }
      gate.chargeResponse(principal, deviceId, bytes);
    };
    try {
      const { status, requestsDone } = await pipeGrpcCall(
        link,
        attached.tunnel,
        { onRequestBytes: charge, onResponseBytes: charge },
      );
      if (requestsDone) this.#idle.park(deviceId, attached);
      else attached.end();
      return status;
    } catch (error) {
      const relayError = RelayError.from(error);
      attached.end(relayError);
      throw relayError;
    }
  }

  /**
   * Checks the call, asks the device for its tunnel and waits for it; or
   * names the relay that holds the device.
   */
  async #open(
    principal: ControllerPrincipal,
    deviceId: string,
    link: GrpcCallLink,
    head: GrpcCallHead,
    span: Span | undefined,
  ): Promise<Route> {
    const options = this.#options;
    const { method } = head;
    validateDeviceId(deviceId);
    options.inputLimits.checkMethodName(method);
    if (!METHOD_PATH.test(method)) {
      throw new RelayError(
        "INVALID_REQUEST",
        `method ${method} is not a gRPC method path (/package.Service/Method)`,
        { source: "downstream" },
      );
    }
    if (options.isDraining()) {
      throw new RelayError("UNAVAILABLE", "relay is shutting down");
    }
    const session = options.registry.get(deviceId);
    try {
      authorizeDeviceCall(
        principal,
        session?.project ?? options.lookupDeviceProject(deviceId),
        method,
        {
          policy: options.methodPolicy,
          hidden: () =>
            new RelayError(
              "DEVICE_NOT_FOUND",
              `device ${deviceId} not found or not accessible`,
              { source: "downstream" },
            ),
        },
      );
    } catch (error) {
      options.gate.denied(link, principal, error as RelayError, deviceId);
      throw error;
    }
    const holder = session === undefined ? this.#holderOf(deviceId, link) : "";
    span?.setAttribute(
      "relay.device_transport",
      holder !== "" ? "cluster" : session?.transport || "none",
    );
    if (holder !== "") return { holder };
    options.gate.admitRequest(link, principal, deviceId, 0);
    const deviceLink = session?.link;
    if (session === undefined || deviceLink == null) {
      throw new RelayError("DEVICE_OFFLINE", `device ${deviceId} is offline`);
    }
    if (!session.grpcTarget) {
      throw new RelayError(
        "METHOD_NOT_FOUND",
        `device ${deviceId} takes no transparent gRPC calls (its agent runs without --grpc-target)`,
        { source: "downstream" },
      );
    }
    const callId = this.#pending.newCallId();
    const start = {
      call_id: callId,
      method,
      metadata: head.metadata,
      timeout_ms: head.deadline === undefined
        ? 0
        : Math.max(1, head.deadline - Date.now()),
      controller_id: principal.controllerId,
    };
    const idle = this.#idle.take(deviceId);
    if (idle !== undefined) {
      try {
        await idle.tunnel.send({ grpc: { start } });
        return idle;
      } catch (error) {
        // Gone meanwhile: ask the device for a new tunnel below.
        idle.end(RelayError.from(error, "UNAVAILABLE"));
      }
    }
    // Given up when the caller goes, the device's stream ends or the device
    // does not open the tunnel in time; `waiting` tells PendingCalls why.
    const waiting = new AbortController();
    const giveUp = (error: RelayError) => {
      waiting.abort(error);
      return error;
    };
    const deviceGone = () =>
      giveUp(
        new RelayError("DEVICE_OFFLINE", `device ${deviceId} went offline`),
      );
    const attached = this.#pending.expect(callId, deviceId, waiting.signal);
    deviceLink.send({ grpc_call: start }).catch(deviceGone);
    return await withDeadline(attached, options.attachTimeoutMs, {
      onTimeout: () =>
        giveUp(
          new RelayError(
            "UNAVAILABLE",
            `device ${deviceId} did not open the call's tunnel within ${options.attachTimeoutMs} ms`,
            { source: "upstream" },
          ),
        ),
      signal: AbortSignal.any([link.signal, deviceLink.signal]),
      onAbort: () =>
        link.signal.aborted
          ? giveUp(RelayError.from(link.signal.reason, "CANCELLED"))
          : deviceGone(),
    });
  }

  /**
   * The gRPC address of the other relay that holds the device, "" when none
   * does or the call was forwarded here already (one hop at most: a holder
   * that lost the device answers as for an offline one).
   */
  #holderOf(deviceId: string, link: GrpcCallLink): string {
    const { fleet, peers } = this.#options;
    if (peers === undefined || link.forwardedBy) return "";
    return fleet?.holderAddressOf(deviceId) ?? "";
  }
}
