// Routes one controller request to its device and returns exactly one
// DeviceResponse for it, whatever happens: authorization, idempotency,
// waiting for a resuming device within the deadline, and device errors.
import { createHash } from "node:crypto";
import type { MethodPolicy } from "../auth/access_policy.ts";
import { authorizeDeviceCall } from "./device_access.ts";
import type { ControllerPrincipal } from "../auth/controller_auth.ts";
import {
  type ErrorCode,
  isErrorCode,
  RelayError,
} from "../errors/relay_error.ts";
import type { RelayMetrics } from "../observability/relay_metrics.ts";
import {
  endSpan,
  type Span,
  SpanKind,
  startSpan,
  traceparentOf,
  withSpan,
} from "../observability/tracing.ts";
import { validateDeviceId } from "../auth/device_id.ts";
import type { DeviceRegistry } from "./device_registry.ts";
import type { Gatekeeper, Peer } from "./gatekeeper.ts";
import { IdempotencyCache } from "./idempotency_cache.ts";
import { deliverToSession } from "./deliver_to_session.ts";
import type { FleetView } from "./fleet_view.ts";
import type { InputLimits } from "./input_limits.ts";
import type {
  ControllerMessage,
  DataResponse,
  DeviceResponse,
} from "./messages.ts";

export interface RequestRouterOptions {
  registry: DeviceRegistry;
  /** Project of a device known to the store (online or not). */
  lookupDeviceProject: (deviceId: string) => string | undefined;
  idempotency: IdempotencyCache;
  metrics: RelayMetrics;
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
  maxPayloadBytes: number;
  methodPolicy: MethodPolicy;
  inputLimits: InputLimits;
  gate: Gatekeeper;
  /** The cluster: requests for devices another relay holds go there. */
  fleet?: FleetView;
}

/** The stream a request came on. */
export interface RequestOrigin extends Peer {
  /** Aborted when the stream ends. */
  readonly signal: AbortSignal;
  /** The stream's W3C traceparent, for requests that carry none ("" = none). */
  readonly traceparent: string;
}

/** An answered request as observers see it: metadata only, never the payload. */
export interface AnsweredRequest {
  deviceId: string;
  method: string;
  controllerId: string;
  /** The response's code ("UNKNOWN" for one this relay does not know). */
  code: string;
  errorMessage: string;
}

export class RequestRouter {
  readonly #options: RequestRouterOptions;
  readonly #answerListeners: ((answer: AnsweredRequest) => void)[] = [];
  #draining = false;
  #inFlight = 0;

  constructor(options: RequestRouterOptions) {
    this.#options = options;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Tells `listener` of every answer (the operator console's per-device errors). */
  onAnswer(listener: (answer: AnsweredRequest) => void): void {
    this.#answerListeners.push(listener);
  }

  /** Refuses new requests with UNAVAILABLE; in-flight ones continue. */
  drain(): void {
    this.#draining = true;
  }

  async route(
    principal: ControllerPrincipal,
    message: ControllerMessage,
    origin: RequestOrigin,
  ): Promise<DeviceResponse> {
    const started = performance.now();
    this.#inFlight++;
    this.#options.metrics.inFlightRequests.inc();
    // Never payloads or tokens: who asks what of whom, and how it went.
    const span = startSpan("relay.route", SpanKind.SERVER, {
      "rpc.method": message.method_name,
      "relay.controller_id": principal.controllerId,
      "relay.controller_transport": origin.transport,
    }, message.traceparent || origin.traceparent);
    let response: DeviceResponse;
    try {
      response = await withSpan(
        span,
        () => this.#route(principal, message, origin, span),
      );
    } catch (error) {
      response = errorResponse(message, RelayError.from(error));
    } finally {
      this.#inFlight--;
      this.#options.metrics.inFlightRequests.dec();
    }
    const seconds = (performance.now() - started) / 1000;
    // A device may answer with a code this relay does not know (a number on
    // the wire): one label for all of them keeps the series bounded.
    const code = isErrorCode(String(response.error))
      ? response.error
      : "UNKNOWN";
    this.#options.metrics.requests.inc({ code });
    this.#options.metrics.requestDuration.observe({ code }, seconds);
    endSpan(span, code);
    for (const listener of this.#answerListeners) {
      listener({
        deviceId: message.target_device_id,
        method: message.method_name,
        controllerId: principal.controllerId,
        code,
        errorMessage: response.error_message,
      });
    }
    return response;
  }

  async #route(
    principal: ControllerPrincipal,
    message: ControllerMessage,
    origin: RequestOrigin,
    span: Span | undefined,
  ): Promise<DeviceResponse> {
    const deviceId = message.target_device_id;
    if (deviceId === "") throw invalid("target_device_id is required");
    validateDeviceId(deviceId);
    span?.setAttribute("relay.device_id", deviceId);
    this.#options.inputLimits.checkMethodName(message.method_name);
    if (message.encrypted_payload.byteLength > this.#options.maxPayloadBytes) {
      throw invalid(`payload exceeds ${this.#options.maxPayloadBytes} bytes`);
    }
    if (this.#draining) {
      throw new RelayError("UNAVAILABLE", "relay is shutting down");
    }

    try {
      this.#authorize(principal, deviceId, message.method_name);
    } catch (error) {
      this.#options.gate.denied(
        origin,
        principal,
        error as RelayError,
        deviceId,
      );
      throw error;
    }
    span?.addEvent("authorized");

    // Sequence number 0 is proto3's "unset": such requests are not deduplicated.
    if (message.sequence_number === 0) {
      return this.#deliver(principal, message, origin, span);
    }
    const key = IdempotencyCache.key(
      principal.controllerId,
      deviceId,
      message.sequence_number,
    );
    const { response, outcome } = await this.#options.idempotency.run(
      key,
      requestFingerprint(message),
      () => this.#deliver(principal, message, origin, span),
    );
    span?.setAttribute("relay.idempotency", outcome);
    if (outcome !== "executed") {
      this.#options.metrics.idempotencyHits.inc({ kind: outcome });
    }
    return response;
  }

  /** Throws UNAUTHORIZED / PERMISSION_DENIED unless the principal may call the method. */
  #authorize(
    principal: ControllerPrincipal,
    deviceId: string,
    method: string,
  ): void {
    const project = this.#options.registry.get(deviceId)?.project ??
      this.#options.lookupDeviceProject(deviceId);
    authorizeDeviceCall(principal, project, method, {
      policy: this.#options.methodPolicy,
      // Non-admins learn nothing about devices outside their projects.
      hidden: () =>
        principal.role === "admin"
          ? new RelayError("DEVICE_NOT_FOUND", "no such device", {
            source: "downstream",
          })
          : new RelayError(
            "UNAUTHORIZED",
            "device not found or not accessible",
            { source: "downstream" },
          ),
    });
  }

  async #deliver(
    principal: ControllerPrincipal,
    message: ControllerMessage,
    origin: RequestOrigin,
    span: Span | undefined,
  ): Promise<DeviceResponse> {
    this.#options.gate.admitRequest(
      origin,
      principal,
      message.target_device_id,
      message.encrypted_payload.byteLength,
    );
    const session = this.#options.registry.get(message.target_device_id);
    const timeoutMs = message.timeout_ms > 0
      ? Math.min(message.timeout_ms, this.#options.maxTimeoutMs)
      : this.#options.defaultTimeoutMs;
    const request = {
      methodName: message.method_name,
      payload: message.encrypted_payload,
      controllerId: principal.controllerId,
      controllerSequenceNumber: message.sequence_number,
      traceparent: traceparentOf(span),
    };
    // Not here: maybe on another relay of the cluster.
    const remote = session === undefined
      ? this.#options.fleet?.deliverRemote(
        { deviceId: message.target_device_id, ...request, timeoutMs },
        origin.signal,
      )
      : undefined;
    span?.setAttribute(
      "relay.device_transport",
      session?.transport || (remote ? "cluster" : "none"),
    );
    if (session === undefined && remote === undefined) {
      return errorResponse(
        message,
        new RelayError("DEVICE_OFFLINE", "device is not connected"),
      );
    }
    try {
      const data = await (remote ??
        deliverToSession(session!, request, timeoutMs, origin.signal));
      span?.addEvent("device answered");
      this.#options.gate.chargeResponse(
        principal,
        message.target_device_id,
        data.encrypted_payload.byteLength,
      );
      return fromDataResponse(message, data);
    } catch (error) {
      return errorResponse(message, RelayError.from(error));
    }
  }
}

function fromDataResponse(
  message: ControllerMessage,
  data: DataResponse,
): DeviceResponse {
  return {
    device_id: message.target_device_id,
    sequence_number: message.sequence_number,
    encrypted_payload: data.encrypted_payload,
    error: data.error as ErrorCode,
    error_message: data.error_message,
  };
}

export function errorResponse(
  message: ControllerMessage,
  error: RelayError,
): DeviceResponse {
  return {
    device_id: message.target_device_id,
    sequence_number: message.sequence_number,
    encrypted_payload: new Uint8Array(0),
    error: error.code,
    error_message: error.message,
  };
}

/** Identifies a request's content, so a reused sequence number is detected. */
function requestFingerprint(message: ControllerMessage): string {
  const digest = createHash("sha256").update(message.encrypted_payload).digest(
    "hex",
  );
  return `${message.method_name}\u0000${digest}`;
}

function invalid(message: string): RelayError {
  return new RelayError("INVALID_REQUEST", message, { source: "downstream" });
}
