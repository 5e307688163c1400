// An ordinary grpc-js client of a device's own service, through the relay:
// TLS with the relay's CA on its gRPC port, the device named in
// `relay-device-id`, the controller JWT in `authorization`. Each call
// resolves with what the client saw (status with trailers, response headers,
// messages) and never rejects, so tests assert codes directly.
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import type { EventEmitter } from "node:events";
import { checkServerIdentity } from "node:tls";
import { hostOf } from "../../src/config/host_port.ts";
import type { TestRelay } from "../harness.ts";

export { grpc };

export interface CallTarget {
  /** Sent as relay-device-id unless undefined. */
  deviceId?: string | undefined;
  /** Sent as `authorization: Bearer <token>` unless undefined. */
  token?: string | undefined;
  /** Further request metadata. */
  metadata?: Record<string, string | Uint8Array>;
  /** Deadline, in ms from the call's start. */
  timeoutMs?: number;
}

export interface CallResult<T> {
  status: grpc.StatusObject;
  /** Response headers, if any arrived. */
  headers: grpc.Metadata | undefined;
  /** Messages received, in order. */
  messages: T[];
  /** From the call's start to its status. */
  elapsedMs: number;
}

export interface Call<Req, Res> {
  write(message: Req): void;
  end(): void;
  cancel(): void;
  /** Messages received so far. */
  readonly messages: readonly Res[];
  /** Resolves when `count` messages have been received. */
  received(count: number): Promise<void>;
  readonly result: Promise<CallResult<Res>>;
}

export interface RelayGrpcClientOptions {
  /** grpc-js send and receive limit (default 64 MiB). */
  maxMessageBytes?: number;
}

/** A grpc-js Client for arbitrary methods on the relay's gRPC port. */
export function relayGrpcClient(
  relayAddress: string,
  caPem: string,
  options: RelayGrpcClientOptions = {},
): grpc.Client {
  const host = hostOf(relayAddress);
  const credentials = grpc.credentials.createSsl(
    Buffer.from(caPem),
    null,
    null,
    // As the SDK does: an IP target is verified against the IP itself.
    { checkServerIdentity: (_name, cert) => checkServerIdentity(host, cert) },
  );
  const limit = options.maxMessageBytes ?? 64 * 1024 * 1024;
  return new grpc.Client(relayAddress, credentials, {
    "grpc.ssl_target_name_override": "ip-address.invalid",
    "grpc.max_send_message_length": limit,
    "grpc.max_receive_message_length": limit,
  });
}

export function clientFor(
  t: TestRelay,
  options?: RelayGrpcClientOptions,
): grpc.Client {
  return relayGrpcClient(t.relay.grpcAddress, t.relay.caPem, options);
}

export function relayMetadata(target: CallTarget): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (target.deviceId !== undefined) {
    metadata.set("relay-device-id", target.deviceId);
  }
  if (target.token !== undefined) {
    metadata.set("authorization", `Bearer ${target.token}`);
  }
  for (const [key, value] of Object.entries(target.metadata ?? {})) {
    metadata.add(key, typeof value === "string" ? value : Buffer.from(value));
  }
  return metadata;
}

/** One method of a proto-loader service definition. */
export interface MethodCodec<Req, Res> {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize(value: Req): Buffer;
  responseDeserialize(bytes: Buffer): Res;
}

export function methodOf<Req, Res>(
  service: grpc.ServiceDefinition,
  name: string,
): MethodCodec<Req, Res> {
  const method = service[name];
  if (method === undefined) throw new Error(`no method ${name}`);
  return {
    path: method.path,
    requestStream: method.requestStream,
    responseStream: method.responseStream,
    requestSerialize: method.requestSerialize as (value: Req) => Buffer,
    responseDeserialize: method.responseDeserialize as (bytes: Buffer) => Res,
  };
}

/**
 * Any kind of call: a unary or server-streaming method sends `request`;
 * client- and bidi-streaming ones take write() and end().
 */
export function startCall<Req, Res>(
  client: grpc.Client,
  codec: MethodCodec<Req, Res>,
  target: CallTarget,
  request?: Req,
): Call<Req, Res> {
  const metadata = relayMetadata(target);
  const options: grpc.CallOptions = target.timeoutMs === undefined
    ? {}
    : { deadline: Date.now() + target.timeoutMs };
  const started = performance.now();
  const messages: Res[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  let headers: grpc.Metadata | undefined;
  const onMessage = (message: Res) => {
    messages.push(message);
    for (const waiter of waiters.filter((w) => messages.length >= w.count)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  };
  // A unary response comes through the callback.
  const callback = (_error: grpc.ServiceError | null, value?: Res) => {
    if (value !== undefined) onMessage(value);
  };
  const { path, requestSerialize: ser, responseDeserialize: de } = codec;
  let call:
    | grpc.ClientUnaryCall
    | grpc.ClientReadableStream<Res>
    | grpc.ClientWritableStream<Req>
    | grpc.ClientDuplexStream<Req, Res>;
  if (!codec.requestStream) {
    if (request === undefined) throw new Error(`${path} needs a request`);
    call = codec.responseStream
      ? client.makeServerStreamRequest(
        path,
        ser,
        de,
        request,
        metadata,
        options,
      )
      : client.makeUnaryRequest(
        path,
        ser,
        de,
        request,
        metadata,
        options,
        callback,
      );
  } else {
    call = codec.responseStream
      ? client.makeBidiStreamRequest(path, ser, de, metadata, options)
      : client.makeClientStreamRequest(
        path,
        ser,
        de,
        metadata,
        options,
        callback,
      );
  }
  const events = call as unknown as EventEmitter;
  if (codec.responseStream) events.on("data", onMessage);
  events.on("error", () => {
    // The status event carries the same failure.
  });
  call.on("metadata", (received: grpc.Metadata) => headers = received);
  const result = new Promise<CallResult<Res>>((resolve) =>
    call.on("status", (status: grpc.StatusObject) =>
      resolve({
        status,
        headers,
        messages,
        elapsedMs: performance.now() - started,
      }))
  );
  const writable = call as grpc.ClientWritableStream<Req>;
  return {
    write: (message) => void writable.write(message),
    end: () => writable.end(),
    cancel: () => call.cancel(),
    messages,
    received: (count) =>
      messages.length >= count ? Promise.resolve() : new Promise((resolve) => {
        waiters.push({ count, resolve });
      }),
    result,
  };
}
