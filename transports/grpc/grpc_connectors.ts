// Client side of the HTTP/2 gRPC transport for the device agent and the
// controller SDK.
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import type { RelayServiceClient } from "../../src/gen/relay/v1/RelayService.ts";
import type {
  CallManyRequest,
  CallManyResult,
  ControllerConnector,
  DeviceConnector,
  DrainRequest,
  ListOnlineDevicesRequest,
  RevokeTokenRequest,
  UnaryGrpcCall,
  UnaryGrpcResult,
} from "../../src/sdk/connector.ts";
import { metadataEntries, toMetadata } from "./metadata_entries.ts";
import { RelayError } from "../../src/errors/relay_error.ts";
import { clientStream } from "./client_stream.ts";
import { DEVICE_ID_METADATA, relayProto } from "./relay_proto.ts";
import { channelCredentials } from "./channel_credentials.ts";
import { fromServiceError } from "./status_mapping.ts";
import { STREAM_WINDOW_BYTES } from "./http2_servers.ts";
import { pingInRootContext } from "./keepalive_ping_context.ts";

export interface GrpcClientOptions {
  /** host:port of the relay's gRPC listener. */
  address: string;
  /** PEM of the CA that issued the relay certificate; ignored with `insecure`. */
  caPem?: string;
  /** Plaintext HTTP/2 (only against a relay started with TLS disabled). */
  insecure?: boolean;
  /** TLS server name when it differs from the host in `address`. */
  serverName?: string;
  maxMessageBytes?: number;
  /** How long `ready` waits for the connection (default 10 s). */
  connectTimeoutMs?: number;
}

function createClient(options: GrpcClientOptions): RelayServiceClient {
  // Else each keepalive ping's async context keeps every earlier one alive.
  pingInRootContext();
  const { credentials, channelOptions: tlsOptions } = channelCredentials(
    options,
  );
  const channelOptions: grpc.ChannelOptions = {
    "grpc.max_receive_message_length": options.maxMessageBytes ??
      8 * 1024 * 1024,
    "grpc.max_send_message_length": options.maxMessageBytes ?? 8 * 1024 * 1024,
    // The SDK owns the retry policy (jittered, with the short ceiling while
    // refused). grpc-js's own reconnect backoff grows 1.6x per failure up to
    // 120 s and fails every call meanwhile with the stale last error, so
    // after an outage it held devices off long after the relay was back.
    "grpc.initial_reconnect_backoff_ms": GRPC_RECONNECT_BACKOFF_MS,
    "grpc.max_reconnect_backoff_ms": GRPC_RECONNECT_BACKOFF_MS,
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    // One connection per client: grpc-js would otherwise share a connection
    // among all clients of a process with the same target and credentials,
    // so one device's failure (or GOAWAY) would cut off every other device.
    "grpc.use_local_subchannel_pool": 1,
    // How much the relay may send ahead (see STREAM_WINDOW_BYTES).
    "grpc-node.flow_control_window": STREAM_WINDOW_BYTES,
    ...tlsOptions,
  };
  const { RelayService } = relayProto().relay.v1;
  return new RelayService(options.address, credentials, channelOptions);
}

/** grpc-js's own pause between dials of one channel (it has no "none"). */
export const GRPC_RECONNECT_BACKOFF_MS = 100;

/** Resolves when the channel is connected (TCP and TLS done). */
function channelReady(
  client: grpc.Client,
  options: GrpcClientOptions,
): Promise<void> {
  return new Promise((resolve, reject) => {
    client.waitForReady(
      Date.now() + (options.connectTimeoutMs ?? 10_000),
      (error) => {
        if (error) {
          reject(
            new RelayError(
              "UNAVAILABLE",
              `cannot reach ${options.address}: ${error.message}`,
            ),
          );
        } else resolve();
      },
    );
  });
}

/** A transparent unary call through the relay (the device named in `relay-device-id`). */
function unaryGrpcCall(
  client: grpc.Client,
  call: UnaryGrpcCall,
  token: string,
): Promise<UnaryGrpcResult> {
  const metadata = toMetadata(call.metadata);
  metadata.merge(bearer(token));
  metadata.set(DEVICE_ID_METADATA, call.deviceId);
  return new Promise((resolve) => {
    let response: Uint8Array | undefined;
    const pending = client.makeUnaryRequest(
      call.method,
      (bytes: Uint8Array) => Buffer.from(bytes),
      (bytes: Buffer) => new Uint8Array(bytes),
      call.request,
      metadata,
      call.timeoutMs > 0
        ? { deadline: new Date(Date.now() + call.timeoutMs) }
        : {},
      (_error, value) => response = value,
    );
    call.signal?.addEventListener("abort", () => pending.cancel(), {
      once: true,
    });
    // After the callback: the status carries the trailers either way.
    pending.on("status", (status: grpc.StatusObject) =>
      resolve({
        code: status.code,
        message: status.details,
        trailers: metadataEntries(status.metadata),
        response: status.code === grpc.status.OK ? response : undefined,
      }));
  });
}

function bearer(token: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (token !== "") metadata.set("authorization", `Bearer ${token}`);
  return metadata;
}

export function grpcDeviceConnector(
  options: GrpcClientOptions,
): DeviceConnector {
  // One channel for every attempt: grpc-js reconnects it by itself, and not
  // closing channels avoids GOAWAY frames, which can crash Deno's node:http2
  // (denoland/deno#36788).
  let client: RelayServiceClient | undefined;
  return {
    transport: "h2",
    connect() {
      client ??= createClient(options);
      return clientStream(
        client.DeviceConnect(),
        channelReady(client, options),
      );
    },
    openTunnel() {
      // Another stream on the same channel, with its own flow control.
      client ??= createClient(options);
      return clientStream(client.OpenTunnel(), channelReady(client, options));
    },
    close() {
      client?.close();
      client = undefined;
    },
  };
}

export function grpcControllerConnector(
  options: GrpcClientOptions,
): ControllerConnector {
  const client = createClient(options);
  return {
    transport: "h2",
    listOnlineDevices(request: ListOnlineDevicesRequest, token: string) {
      return new Promise((resolve, reject) => {
        client.ListOnlineDevices(request, bearer(token), (error, response) => {
          if (error || !response) reject(fromServiceError(error));
          else resolve(response.devices);
        });
      });
    },
    revokeToken(request: RevokeTokenRequest, token: string) {
      return new Promise((resolve, reject) => {
        client.RevokeToken(request, bearer(token), (error, response) => {
          if (error || !response) reject(fromServiceError(error));
          else resolve(response);
        });
      });
    },
    drain(request: DrainRequest, token: string) {
      return new Promise((resolve, reject) => {
        client.Drain(request, bearer(token), (error, response) => {
          if (error || !response) reject(fromServiceError(error));
          else resolve(response);
        });
      });
    },
    openStream(token: string) {
      return clientStream(
        client.ConnectToDevice(bearer(token)),
        channelReady(client, options),
      );
    },
    async *callMany(request: CallManyRequest, token: string, signal) {
      const call = client.CallMany(request, bearer(token));
      const cancel = () => call.cancel();
      signal?.addEventListener("abort", cancel, { once: true });
      try {
        for await (const result of call) yield result as CallManyResult;
      } catch (error) {
        throw fromServiceError(error);
      } finally {
        signal?.removeEventListener("abort", cancel);
        call.cancel();
      }
    },
    unaryGrpcCall: (call, token) => unaryGrpcCall(client, call, token),
    close() {
      client.close();
    },
  };
}
