// Requests for a device another relay of the cluster holds (issue 17): NATS
// request/reply on `relay.requests.<relay>`. The relay the controller is
// connected to authorizes and admits the request as for its own devices,
// then asks the holder, which delivers it to the device's session (its
// RelayCore.deliverForCluster) and replies with the device's answer. Exactly
// one answer per request: the reply, or an error when the holder is gone (no
// responders) or the deadline passed. A retry through any relay reaches the
// same device, whose answer cache recognises it (controller id and number).
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { Buffer } from "node:buffer";
import type {
  FleetView,
  RelayMoveHint,
  RemoteRequest,
} from "../core/fleet_view.ts";
import type { DataResponse, DeviceInfo } from "../core/messages.ts";
import {
  type ErrorCode,
  isErrorCode,
  RelayError,
} from "../errors/relay_error.ts";
import type { FleetDirectory } from "./fleet_directory.ts";
import { requestThroughFailover, TopologyWatch } from "./failover_request.ts";
import { keyOf } from "./kv_mirror.ts";

/** Time the hop itself may add to a request's deadline before it gives up. */
const HOP_SLACK_MS = 1000;

interface WireRequest {
  device_id: string;
  method_name: string;
  payload: string;
  controller_id: string;
  controller_sequence_number: number;
  /** Absent from relays of an earlier release. */
  traceparent?: string;
  timeout_ms: number;
}

type WireReply =
  | {
    connection_id: string;
    sequence_number: number;
    payload: string;
    error: string;
    error_message: string;
  }
  | { failure: { code: string; message: string } };

const subjectOf = (relayId: string) => `relay.requests.${keyOf(relayId)}`;
/** Where a relay hears that one of its sessions resumed on another relay. */
const movesSubjectOf = (relayId: string) => `relay.moves.${keyOf(relayId)}`;
/** How long a relay that took over a session waits for the old holder to hand over. */
const HAND_OVER_TIMEOUT_MS = 5000;

interface WireMove {
  device_id: string;
  connection_id: string;
  to_relay: string;
}

/** What a relay does when its session of a device resumed elsewhere. */
export type MovedAway = (
  deviceId: string,
  connectionId: string,
  toRelay: string,
) => void;

export class ClusterRequests implements FleetView {
  readonly #nc: NatsConnection;
  readonly #directory: FleetDirectory;
  readonly #relayId: string;
  readonly #served: Subscription[] = [];
  readonly #topology: TopologyWatch;

  constructor(nc: NatsConnection, directory: FleetDirectory, relayId: string) {
    this.#nc = nc;
    this.#topology = new TopologyWatch(nc, relayId);
    this.#directory = directory;
    this.#relayId = relayId;
  }

  remoteDevices(): readonly DeviceInfo[] {
    return this.#directory.remoteDevices();
  }

  holderAddressOf(deviceId: string): string | undefined {
    return this.#directory.remoteDevice(deviceId)?.relay_address || undefined;
  }

  deliverRemote(
    request: RemoteRequest,
    signal: AbortSignal,
  ): Promise<DataResponse> | undefined {
    const holder = this.#directory.holderOf(request.deviceId);
    if (holder === undefined) return undefined;
    return this.deliverVia(holder, request, signal);
  }

  deliverVia(
    holder: string,
    request: RemoteRequest,
    signal: AbortSignal,
  ): Promise<DataResponse> {
    const wire: WireRequest = {
      device_id: request.deviceId,
      method_name: request.methodName,
      payload: Buffer.from(request.payload).toString("base64"),
      controller_id: request.controllerId,
      controller_sequence_number: request.controllerSequenceNumber,
      traceparent: request.traceparent,
      timeout_ms: request.timeoutMs,
    };
    // Asked again if a NATS node is lost meanwhile (the device's answer
    // cache recognises the repeat), rather than waiting out the deadline.
    const asked = requestThroughFailover(
      this.#nc,
      this.#topology,
      subjectOf(holder),
      JSON.stringify(wire),
      request.timeoutMs + HOP_SLACK_MS,
    ).then((message) => fromWire(message.json<WireReply>()), (error) => {
      throw hopError(error as Error, holder);
    });
    return raceSignal(asked, signal);
  }

  sessionElsewhere(deviceId: string, connectionId: string): string | undefined {
    return this.#directory.sessionElsewhere(deviceId, connectionId);
  }

  /**
   * Resolves once the old holder handed the session's waiting requests over
   * and its own directory writes landed (or at once when it is gone: the
   * requests went with it).
   */
  async sessionMovedHere(
    deviceId: string,
    connectionId: string,
    relayId: string,
  ): Promise<void> {
    const move: WireMove = {
      device_id: deviceId,
      connection_id: connectionId,
      to_relay: this.#relayId,
    };
    await this.#nc.request(movesSubjectOf(relayId), JSON.stringify(move), {
      timeout: HAND_OVER_TIMEOUT_MS,
    }).catch(() => {});
  }

  announceDraining(): Promise<void> {
    return this.#directory.announceDraining();
  }

  moveTargets(): RelayMoveHint[] {
    return this.#directory.otherLiveRelays();
  }

  /**
   * Serves requests forwarded to this relay with `deliver`
   * (RelayCore.deliverForCluster), and sessions that resumed elsewhere with
   * `movedAway` (RelayCore.handOver).
   */
  serve(
    deliver: (request: RemoteRequest, signal: AbortSignal) => Promise<
      DataResponse
    >,
    movedAway: MovedAway,
  ): void {
    this.#served.push(this.#nc.subscribe(movesSubjectOf(this.#relayId), {
      callback: (error, message) => {
        if (error !== null) return;
        try {
          const move = message.json<WireMove>();
          this.#directory.noteMoved(move.device_id, move.to_relay);
          movedAway(move.device_id, move.connection_id, move.to_relay);
        } catch {
          // Malformed: nothing to hand over.
        }
        // This relay's last entry for the device (e.g. its link dropping
        // as it moved) lands before the reply, so the new holder's entry,
        // written again on the reply, is the last word.
        this.#directory.writesLanded().then(() => message.respond("{}"));
      },
    }));
    this.#served.push(this.#nc.subscribe(subjectOf(this.#relayId), {
      callback: (error, message) => {
        if (error !== null) return;
        let request: RemoteRequest;
        try {
          const wire = message.json<WireRequest>();
          request = {
            deviceId: wire.device_id,
            methodName: wire.method_name,
            payload: new Uint8Array(Buffer.from(wire.payload, "base64")),
            controllerId: wire.controller_id,
            controllerSequenceNumber: wire.controller_sequence_number,
            traceparent: wire.traceparent ?? "",
            timeoutMs: wire.timeout_ms,
          };
        } catch {
          message.respond(JSON.stringify(failure(
            new RelayError("INVALID_REQUEST", "malformed cluster request"),
          )));
          return;
        }
        deliver(request, AbortSignal.timeout(request.timeoutMs + HOP_SLACK_MS))
          .then(
            (data): WireReply => ({
              connection_id: data.connection_id,
              sequence_number: data.sequence_number,
              payload: Buffer.from(data.encrypted_payload).toString("base64"),
              error: String(data.error),
              error_message: data.error_message,
            }),
            (error) => failure(RelayError.from(error)),
          )
          .then((reply) => message.respond(JSON.stringify(reply)));
      },
    }));
  }

  close(): void {
    for (const subscription of this.#served) subscription.unsubscribe();
  }
}

function failure(error: RelayError): WireReply {
  return { failure: { code: error.code, message: error.message } };
}

function fromWire(reply: WireReply): DataResponse {
  if ("failure" in reply) {
    const code = isErrorCode(reply.failure.code)
      ? reply.failure.code
      : "INTERNAL_ERROR";
    throw new RelayError(code, reply.failure.message, { source: "upstream" });
  }
  return {
    connection_id: reply.connection_id,
    sequence_number: reply.sequence_number,
    encrypted_payload: Buffer.from(reply.payload, "base64"),
    error: reply.error as ErrorCode,
    error_message: reply.error_message,
  } as DataResponse;
}

/** What a failed hop means for the request. */
function hopError(error: Error, holder: string): RelayError {
  const text = error.message;
  if (/no responders/i.test(text)) {
    return new RelayError(
      "DEVICE_OFFLINE",
      `relay ${holder}, which held the device, does not answer`,
    );
  }
  if (/timeout/i.test(text)) {
    return new RelayError(
      "DEADLINE_EXCEEDED",
      `no answer through relay ${holder} before the deadline`,
    );
  }
  return new RelayError("UNAVAILABLE", `cluster hop to ${holder}: ${text}`);
}

/** The controller's stream ending ends the wait (the holder finishes on its own). */
function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  });
}
