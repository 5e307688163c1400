// One device's session on this relay: identity, presence and the requests
// waiting for the device. A session outlives a transport drop for the resume
// window; `generation` fences every link so that an old link's cleanup never
// touches a newer one.
import { RelayError } from "../errors/relay_error.ts";
import type { DeviceLink } from "./links.ts";
import type { DataResponse } from "./messages.ts";

export type PresenceState = "online" | "suspect" | "disconnected";

export interface DeliveryRequest {
  methodName: string;
  payload: Uint8Array;
  controllerId: string;
  controllerSequenceNumber: number;
  /** W3C traceparent of the relay's span ("" = none). */
  traceparent: string;
  /** Unix millis when the controller stops waiting. */
  deadline: number;
}

/** A request waiting for the device; handed over whole when the session moves. */
export interface PendingDelivery {
  request: DeliveryRequest;
  /** The waiter's signal (its deadline, its caller gone). */
  signal: AbortSignal;
  resolve: (response: DataResponse) => void;
  reject: (error: RelayError) => void;
}

export interface DeviceSessionInit {
  deviceId: string;
  project: string;
  connectionId: string;
  metadata: Record<string, string>;
  grpcTarget: boolean;
  maxPending: number;
  now: number;
}

export class DeviceSession {
  readonly deviceId: string;
  readonly project: string;
  readonly connectionId: string;
  readonly connectedAt: number;
  readonly #maxPending: number;
  readonly #pending = new Map<number, PendingDelivery>();
  #nextDeliveryId = 1;

  generation = 0;
  lastSeen: number;
  state: PresenceState = "disconnected";
  metadata: Record<string, string>;
  /** Its agent forwards transparent gRPC calls to a local gRPC server. */
  grpcTarget: boolean;
  link: DeviceLink | null = null;
  transport = "";
  remoteAddress = "";

  constructor(init: DeviceSessionInit) {
    this.deviceId = init.deviceId;
    this.project = init.project;
    this.connectionId = init.connectionId;
    this.metadata = init.metadata;
    this.grpcTarget = init.grpcTarget;
    this.#maxPending = init.maxPending;
    this.connectedAt = init.now;
    this.lastSeen = init.now;
  }

  /** Sends a request to the device now, or when it resumes; settles exactly once. */
  deliver(
    request: DeliveryRequest,
    signal: AbortSignal,
  ): Promise<DataResponse> {
    if (this.#pending.size >= this.#maxPending) {
      return Promise.reject(
        new RelayError(
          "RATE_LIMITED",
          "too many requests pending for this device",
        ),
      );
    }
    const deliveryId = this.#nextDeliveryId++;
    return new Promise<DataResponse>((resolve, reject) => {
      const onAbort = () => {
        if (this.#pending.delete(deliveryId)) {
          reject(RelayError.from(signal.reason, "CANCELLED"));
        }
      };
      this.#pending.set(deliveryId, {
        request,
        signal,
        resolve: (response) => {
          signal.removeEventListener("abort", onAbort);
          resolve(response);
        },
        reject: (error) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      });
      signal.addEventListener("abort", onAbort, { once: true });
      if (this.link !== null) this.#send(this.link, deliveryId, request);
    });
  }

  /** Settles the request the device answered; false when nothing waits for it. */
  complete(response: DataResponse): boolean {
    const pending = this.#pending.get(response.sequence_number);
    if (pending === undefined) return false;
    this.#pending.delete(response.sequence_number);
    pending.resolve(response);
    return true;
  }

  /** Binds a (new) link. Call `resendPending` once the device was told it is registered. */
  attach(link: DeviceLink, generation: number, now: number): void {
    this.link = link;
    this.generation = generation;
    this.transport = link.transport;
    this.remoteAddress = link.remoteAddress;
    this.lastSeen = now;
    this.state = "online";
  }

  /** (Re)sends every unanswered request on the current link. */
  resendPending(): void {
    const link = this.link;
    if (link === null) return;
    for (const [deliveryId, pending] of this.#pending) {
      this.#send(link, deliveryId, pending.request);
    }
  }

  detach(): void {
    this.link = null;
    this.state = "disconnected";
  }

  /** Moves the requests of a replaced session to this one. */
  adoptPending(previous: DeviceSession): void {
    for (const pending of previous.#pending.values()) {
      this.#pending.set(this.#nextDeliveryId++, pending);
    }
    previous.#pending.clear();
  }

  /** Takes every waiting request out (to follow the device to another relay). */
  takePending(): PendingDelivery[] {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    return pending;
  }

  failAll(error: RelayError): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const entry of pending) entry.reject(error);
  }

  #send(link: DeviceLink, deliveryId: number, request: DeliveryRequest): void {
    const timeoutMs = Math.max(1, request.deadline - Date.now());
    link.send({
      data_request: {
        connection_id: this.connectionId,
        sequence_number: deliveryId,
        encrypted_payload: request.payload,
        method_name: request.methodName,
        controller_id: request.controllerId,
        timeout_ms: timeoutMs,
        controller_sequence_number: request.controllerSequenceNumber,
        traceparent: request.traceparent,
      },
    }).catch(() => {
      // The link failed: the transport adapter reports the drop, and the
      // request is re-sent if the session resumes.
    });
  }
}
