// Controller SDK: list devices, revoke tokens, and call devices through
// pipelined sessions with automatic sequence numbers, per-request timeouts,
// cancellation and typed errors (RelayError with the relay's code).
// Payloads are end-to-end encrypted to the device's pinned key by default.
import {
  ControllerE2e,
  type ControllerE2eOptions,
  isSessionRefusal,
  type PreparedRequest,
  type SessionE2e,
} from "../e2e/controller_e2e.ts";
import { type ErrorCode, RelayError } from "../errors/relay_error.ts";
import {
  endSpan,
  SpanKind,
  startSpan,
  traceparentOf,
} from "../observability/tracing.ts";
import type {
  ClientStream,
  ControllerConnector,
  ControllerMessage,
  DeviceInfo,
  DeviceResponse,
  UnaryGrpcResult,
} from "./connector.ts";
import type { MetadataEntry } from "../wire/grpc_call_types.ts";
import { endLongLivedStreamSpans } from "../observability/stream_spans.ts";

const encoder = new TextEncoder();

function metadataList(metadata: Record<string, string> = {}): MetadataEntry[] {
  return Object.entries(metadata).map(([key, value]) => ({
    key: key.toLowerCase(),
    value: encoder.encode(value),
  }));
}

export interface ControllerClientOptions {
  connector: ControllerConnector;
  /** Controller JWT, sent as `authorization: Bearer` metadata. */
  token: string;
  defaultTimeoutMs?: number;
  /**
   * End-to-end encryption (default on): requests are sealed to the device's
   * public key (pinned, or trusted on first use) and only its answers open.
   * `false` sends payloads as they are, readable by the relay.
   */
  e2e?: ControllerE2eOptions | false;
}

export interface ListDevicesOptions {
  region?: string;
  labels?: Record<string, string>;
}

export interface RevokeOptions {
  /** The whole token or its SHA-256 hex. */
  token: string;
  targetType?: "CONTROLLER" | "DEVICE";
  reason?: string;
}

export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Explicit sequence number (for idempotent retries); automatic otherwise. */
  sequenceNumber?: number;
}

export interface CallManyOptions {
  /** "/package.Service/Method" on the devices' own gRPC servers. */
  method: string;
  /** The serialized request message, the same for every device. */
  request: Uint8Array;
  /** Devices to call by id (an offline one gets UNAVAILABLE). */
  deviceIds?: string[];
  /** Also every online device carrying all these labels (register metadata). */
  labels?: Record<string, string>;
  /** Each device's deadline (default relay.request.default_timeout_seconds, capped by max_timeout_seconds). */
  perDeviceTimeoutMs?: number;
  /** Devices called at once (relay default 32, at most 256). */
  maxConcurrency?: number;
  /** Request metadata for every call (not `authorization` or `relay-*`). */
  metadata?: Record<string, string>;
  signal?: AbortSignal;
}

/** One device's outcome: the gRPC status its server (or the relay) gave. */
export interface CallManyResult {
  deviceId: string;
  /** gRPC status code; 0 is OK. */
  code: number;
  message: string;
  /** The response message with OK, else empty. */
  response: Uint8Array;
  durationMs: number;
}

export interface GrpcCallOptions {
  /** The call's deadline; none by default. */
  timeoutMs?: number;
  metadata?: Record<string, string>;
  signal?: AbortSignal;
}

export class ControllerClient {
  readonly #options: ControllerClientOptions;
  readonly #sessions = new Map<string, DeviceCallSession>();
  readonly #e2e: ControllerE2e | undefined;

  constructor(options: ControllerClientOptions) {
    endLongLivedStreamSpans();
    this.#options = options;
    this.#e2e = options.e2e === false ? undefined : new ControllerE2e(
      options.e2e ?? {},
      options.token,
      () => this.listDevices(),
      options.defaultTimeoutMs,
    );
  }

  /** False when this client sends plaintext (`e2e: false`). */
  get encrypted(): boolean {
    return this.#e2e !== undefined;
  }

  listDevices(options: ListDevicesOptions = {}): Promise<DeviceInfo[]> {
    return this.#options.connector.listOnlineDevices({
      region_filter: options.region ?? "",
      label_filter: options.labels ?? {},
    }, this.#options.token);
  }

  async revokeToken(
    options: RevokeOptions,
  ): Promise<{ revoked: boolean; closedStreams: number }> {
    const response = await this.#options.connector.revokeToken({
      target_type: options.targetType ?? "TOKEN_TARGET_TYPE_UNSPECIFIED",
      target_token_hash_or_prefix: options.token,
      reason: options.reason ?? "",
    }, this.#options.token);
    return {
      revoked: response.revoked,
      closedStreams: response.closed_streams,
    };
  }

  /**
   * Asks the relay to drain and stop (admins; HTTP/2): in a cluster its
   * devices move to other relays first. Resolves with the devices it held
   * once the drain has started.
   */
  async drainRelay(
    options: { timeoutSeconds?: number } = {},
  ): Promise<{ devices: number }> {
    const connector = this.#options.connector;
    if (connector.drain === undefined) {
      throw new RelayError(
        "METHOD_NOT_FOUND",
        `Drain needs the HTTP/2 transport (this connector is ${connector.transport})`,
      );
    }
    const response = await connector.drain({
      timeout_seconds: options.timeoutSeconds ?? 0,
    }, this.#options.token);
    return { devices: response.devices };
  }

  /**
   * One unary call on many devices' own gRPC servers (relay.v1 CallMany,
   * HTTP/2 only). Yields one result per device as each finishes; throws a
   * RelayError only when the relay refuses the whole request.
   */
  async *callMany(options: CallManyOptions): AsyncGenerator<CallManyResult> {
    const results = this.#needs("callMany").callMany!(
      {
        method: options.method,
        request: options.request,
        device_ids: options.deviceIds ?? [],
        label_selector: options.labels ?? {},
        per_device_timeout_ms: options.perDeviceTimeoutMs ?? 0,
        max_concurrency: options.maxConcurrency ?? 0,
        metadata: metadataList(options.metadata),
      },
      this.#options.token,
      options.signal,
    );
    for await (const result of results) {
      yield {
        deviceId: result.device_id,
        code: result.status_code,
        message: result.status_message,
        response: new Uint8Array(result.response),
        durationMs: result.duration_ms,
      };
    }
  }

  /**
   * One unary call on a device's own gRPC server, bytes in and out (what any
   * gRPC client does with `relay-device-id` metadata; HTTP/2 only). Resolves
   * with the status, whatever its code; `response` is set with OK.
   */
  grpcCall(
    deviceId: string,
    method: string,
    request: Uint8Array,
    options: GrpcCallOptions = {},
  ): Promise<UnaryGrpcResult> {
    return this.#needs("unaryGrpcCall").unaryGrpcCall!({
      deviceId,
      method,
      request,
      metadata: metadataList(options.metadata),
      timeoutMs: options.timeoutMs ?? 0,
      ...(options.signal ? { signal: options.signal } : {}),
    }, this.#options.token);
  }

  #needs(
    method: "callMany" | "unaryGrpcCall",
  ): ControllerConnector {
    const connector = this.#options.connector;
    if (connector[method] === undefined) {
      throw new RelayError(
        "METHOD_NOT_FOUND",
        `transparent gRPC calls need the HTTP/2 transport, not ${connector.transport}`,
      );
    }
    return connector;
  }

  /** A new ConnectToDevice stream bound to one device. */
  openSession(deviceId: string): DeviceCallSession {
    return new DeviceCallSession(
      this.#options.connector.openStream(this.#options.token),
      deviceId,
      this.#options.defaultTimeoutMs ?? 30_000,
      this.#e2e?.session(deviceId),
    );
  }

  /** Calls through a shared session per device (opened on first use). */
  call(
    deviceId: string,
    method: string,
    payload: Uint8Array,
    options?: CallOptions,
  ): Promise<Uint8Array> {
    let session = this.#sessions.get(deviceId);
    if (session === undefined || session.closed) {
      session = this.openSession(deviceId);
      this.#sessions.set(deviceId, session);
    }
    return session.call(method, payload, options);
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.#sessions.values()].map((session) => session.close()),
    );
    this.#sessions.clear();
    this.#options.connector.close();
  }
}

interface Waiter {
  resolve: (response: DeviceResponse) => void;
  reject: (error: RelayError) => void;
}

/** Grace on top of the relay's deadline, so the relay's answer normally wins. */
const LOCAL_DEADLINE_GRACE_MS = 1000;

export class DeviceCallSession {
  readonly deviceId: string;
  readonly #stream: ClientStream<ControllerMessage, DeviceResponse>;
  readonly #defaultTimeoutMs: number;
  readonly #waiting = new Map<number, Waiter[]>();
  readonly #reader: Promise<void>;
  readonly #e2e: SessionE2e | undefined;
  #sendTurn: Promise<void> = Promise.resolve();
  /** Requests being sealed asynchronously (the session's setup, retries). */
  #preparing = 0;
  #nextSequence = Math.floor(Math.random() * 2 ** 52);
  #failure: RelayError | undefined;
  #closed = false;

  constructor(
    stream: ClientStream<ControllerMessage, DeviceResponse>,
    deviceId: string,
    defaultTimeoutMs: number,
    e2e?: SessionE2e,
  ) {
    this.#stream = stream;
    this.deviceId = deviceId;
    this.#defaultTimeoutMs = defaultTimeoutMs;
    this.#e2e = e2e;
    this.#reader = this.#read();
  }

  get closed(): boolean {
    return this.#closed || this.#failure !== undefined;
  }

  /** Sends one request; resolves with the device's bytes or throws RelayError. */
  async call(
    method: string,
    payload: Uint8Array,
    options: CallOptions = {},
  ): Promise<Uint8Array> {
    const response = await this.request(method, payload, options);
    if (response.error !== "OK") {
      throw new RelayError(
        response.error as ErrorCode,
        response.error_message || response.error,
        {
          source: "upstream",
        },
      );
    }
    return response.encrypted_payload;
  }

  /**
   * Like `call`, but returns the DeviceResponse, error code included (with
   * E2E on, its payload is the opened plaintext).
   */
  request(
    method: string,
    payload: Uint8Array,
    options: CallOptions = {},
  ): Promise<DeviceResponse> {
    return this.#request(method, payload, options, true);
  }

  /** `mayResend`: a request the device refused for its E2E session goes again, once, in a new one. */
  #request(
    method: string,
    payload: Uint8Array,
    options: CallOptions,
    mayResend: boolean,
  ): Promise<DeviceResponse> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#closed) {
      return Promise.reject(new RelayError("CANCELLED", "session is closed"));
    }
    const sequenceNumber = options.sequenceNumber ?? this.#nextSequence++;
    const timeoutMs = options.timeoutMs ?? this.#defaultTimeoutMs;
    if (options.signal?.aborted) {
      return Promise.reject(new RelayError("CANCELLED", "request cancelled"));
    }
    // The caller's active span (if any) is the parent; the relay's is a child.
    const span = startSpan("relay.controller.call", SpanKind.CLIENT, {
      "rpc.method": method,
      "relay.device_id": this.deviceId,
    });
    const traceparent = traceparentOf(span);
    return new Promise<DeviceResponse>((resolve, reject) => {
      let settled = false;
      let opener: PreparedRequest | undefined;
      const timer = setTimeout(() => {
        this.#forget(sequenceNumber, waiter);
        waiter.reject(
          new RelayError("DEADLINE_EXCEEDED", "no answer before the deadline"),
        );
      }, timeoutMs + LOCAL_DEADLINE_GRACE_MS);
      const onAbort = () => {
        this.#forget(sequenceNumber, waiter);
        waiter.reject(new RelayError("CANCELLED", "request cancelled"));
      };
      const cleanup = (code: string) => {
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        endSpan(span, code);
      };
      const waiter: Waiter = {
        resolve: (response) => {
          cleanup(String(response.error));
          if (opener === undefined) return resolve(response);
          opener.open(response).then(
            (opened) =>
              mayResend && isSessionRefusal(opened)
                ? resolve(
                  this.#request(
                    method,
                    payload,
                    { ...options, sequenceNumber },
                    false,
                  ),
                )
                : resolve(opened),
            (error) => reject(RelayError.from(error, "INTERNAL_ERROR")),
          );
        },
        reject: (error) => {
          cleanup(error.code);
          reject(error);
        },
      };
      options.signal?.addEventListener("abort", onAbort, { once: true });
      const list = this.#waiting.get(sequenceNumber) ?? [];
      list.push(waiter);
      this.#waiting.set(sequenceNumber, list);
      const send = (bytes: Uint8Array) =>
        this.#stream.send({
          target_device_id: this.deviceId,
          method_name: method,
          sequence_number: sequenceNumber,
          encrypted_payload: bytes,
          timeout_ms: timeoutMs,
          traceparent,
        }).catch((error) => {
          this.#forget(sequenceNumber, waiter);
          waiter.reject(RelayError.from(error, "UNAVAILABLE"));
        });
      if (this.#e2e === undefined) {
        send(payload);
        return;
      }
      // A set-up session seals at once; while an earlier request is still
      // being sealed, this one waits its turn, so requests leave in order.
      const now = this.#preparing === 0
        ? this.#e2e.prepareNow(method, payload, options.sequenceNumber)
        : undefined;
      if (now !== undefined) {
        opener = now;
        send(now.payload);
        return;
      }
      // Sealing is asynchronous; requests still leave in call order.
      const prepared = this.#e2e.prepare(
        method,
        payload,
        options.sequenceNumber,
      );
      const previous = this.#sendTurn;
      const turn = Promise.withResolvers<void>();
      this.#sendTurn = turn.promise;
      this.#preparing++;
      prepared.then(async (sealed) => {
        await previous;
        if (settled) return;
        opener = sealed;
        send(sealed.payload);
      }, (error) => {
        this.#forget(sequenceNumber, waiter);
        waiter.reject(RelayError.from(error, "INTERNAL_ERROR"));
      }).finally(() => {
        this.#preparing--;
        turn.resolve();
      });
    });
  }

  /** Half-closes the stream; answers already on their way are still delivered. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#waiting.size === 0) this.#stream.abort();
    else this.#stream.end();
    await this.#reader;
  }

  async #read(): Promise<void> {
    try {
      for await (const response of this.#stream.messages) {
        const list = this.#waiting.get(response.sequence_number);
        const waiter = list?.shift();
        if (list?.length === 0) this.#waiting.delete(response.sequence_number);
        waiter?.resolve(response);
        if (this.#closed && this.#waiting.size === 0) this.#stream.abort();
      }
      this.#failAll(new RelayError("UNAVAILABLE", "relay ended the session"));
    } catch (error) {
      this.#failAll(RelayError.from(error, "UNAVAILABLE"));
    }
  }

  #failAll(error: RelayError): void {
    if (!this.#closed) this.#failure = error;
    const waiters = [...this.#waiting.values()].flat();
    this.#waiting.clear();
    for (const waiter of waiters) waiter.reject(error);
  }

  #forget(sequenceNumber: number, waiter: Waiter): void {
    const list = this.#waiting.get(sequenceNumber);
    if (list === undefined) return;
    const index = list.indexOf(waiter);
    if (index >= 0) list.splice(index, 1);
    if (list.length === 0) this.#waiting.delete(sequenceNumber);
  }
}
