// Client side of the QUIC transport, the SDK's device and controller
// connectors: raw QUIC with ALPN "relay.v1" (Deno's connectQuic takes the
// relay's CA; browsers use WebTransport instead), dialled as quic_dial.ts
// does, each stream a quic_client_stream.ts.
import { RelayError } from "../../src/errors/relay_error.ts";
import type { ControllerStreamFrame__Output } from "../../src/gen/relay/v1/ControllerStreamFrame.ts";
import type { StreamOpen } from "../../src/gen/relay/v1/StreamOpen.ts";
import type {
  ClientStream,
  ControllerConnector,
  ControllerMessage,
  DeviceConnector,
  DeviceMessage,
  DeviceResponse,
  RelayMessage,
  TunnelStream,
} from "../../src/sdk/connector.ts";
import {
  controllerFrames,
  quicClientStream,
  type QuicClientStreamOptions,
} from "./quic_client_stream.ts";
import {
  closeQuietly,
  connectQuic,
  DialEndpoint,
  type QuicClientOptions,
  SharedConnection,
} from "./quic_dial.ts";
import { type MessageCodec, relayCodecs } from "./relay_codec.ts";

export type { QuicClientOptions };

export function quicDeviceConnector(
  options: QuicClientOptions,
): DeviceConnector & { probe(): Promise<void> } {
  const endpoint = new DialEndpoint(options.endpoint);
  let current: Deno.QuicConn | undefined;
  /** Carries tunnels while no device stream's connection is up. */
  const tunnelConn = new SharedConnection(() => connectQuic(options, endpoint));
  // Tunnels ride on the device stream's connection when there is one.
  const tunnelConnection = (): Promise<Deno.QuicConn> =>
    current !== undefined ? Promise.resolve(current) : tunnelConn.get();
  return {
    transport: "quic",
    connect() {
      // A fresh connection per attempt: a reconnect never reuses a dead path.
      current?.close({ closeCode: 0, reason: "reconnecting" });
      current = undefined;
      const attempt = new AbortController();
      const conn = connectQuic(options, endpoint, attempt.signal).then(
        (connection) => {
          current = connection;
          connection.closed.catch(() => undefined).finally(() => {
            if (current === connection) current = undefined;
          });
          return connection;
        },
      );
      return quicClientStream<DeviceMessage, RelayMessage>({
        stream: conn.then((connection) =>
          connection.createBidirectionalStream()
        ),
        open: { kind: "DEVICE_CONNECT", authorization: "" },
        encode: relayCodecs.deviceMessage,
        decode: (frame) => relayCodecs.relayMessage.decode(frame),
        maxFrameBytes: options.maxFrameBytes,
        onAbort: () => {
          attempt.abort();
          conn.then((c) => c.close({ closeCode: 0, reason: "aborted" }))
            .catch(() => undefined);
        },
      });
    },
    async probe() {
      const conn = await connectQuic(options, endpoint);
      conn.close({ closeCode: 0, reason: "probe" });
    },
    openTunnel(): TunnelStream {
      return quicClientStream({
        stream: tunnelConnection().then((c) => c.createBidirectionalStream()),
        open: { kind: "TUNNEL", authorization: "" },
        encode: relayCodecs.tunnelFrame,
        decode: (frame) => relayCodecs.tunnelFrame.decode(frame),
        maxFrameBytes: options.maxFrameBytes,
      });
    },
    close() {
      const closing = [closeQuietly(current), tunnelConn.close()];
      current = undefined;
      // After the close frames went out, or the relay would see a timeout.
      Promise.all(closing).finally(() => endpoint.close());
    },
  };
}

interface UnaryCall<Request, Reply> {
  kind: NonNullable<StreamOpen["kind"]>;
  encode: MessageCodec<Request, unknown>;
  /** The reply within the relay's one ControllerStreamFrame. */
  pick: (frame: ControllerStreamFrame__Output) => Reply | undefined;
}

export function quicControllerConnector(
  options: QuicClientOptions,
): ControllerConnector {
  const endpoint = new DialEndpoint(options.endpoint);
  // A failed or closed connection is replaced on the next call.
  const connection = new SharedConnection(() => connectQuic(options, endpoint));
  const controllerStream = <Out, In>(
    kind: NonNullable<StreamOpen["kind"]>,
    token: string,
    codec: Pick<QuicClientStreamOptions<Out, In>, "encode" | "decode">,
  ) =>
    quicClientStream<Out, In>({
      stream: connection.get().then((c) => c.createBidirectionalStream()),
      open: { kind, authorization: token ? `Bearer ${token}` : "" },
      ...codec,
      maxFrameBytes: options.maxFrameBytes,
    });
  const unary = async <Request, Reply>(
    call: UnaryCall<Request, Reply>,
    request: Request,
    token: string,
  ): Promise<Reply> => {
    const stream = controllerStream<Request, Reply>(call.kind, token, {
      encode: call.encode,
      decode: controllerFrames(call.pick),
    });
    await stream.send(request);
    stream.end();
    for await (const reply of stream.messages) return reply;
    throw new RelayError(
      "UNAVAILABLE",
      "relay ended the stream without a reply",
    );
  };
  return {
    transport: "quic",
    listOnlineDevices: (request, token) =>
      unary(
        {
          kind: "LIST_ONLINE_DEVICES",
          encode: relayCodecs.listRequest,
          pick: (frame) => frame.devices?.devices,
        },
        request,
        token,
      ),
    revokeToken: (request, token) =>
      unary(
        {
          kind: "REVOKE_TOKEN",
          encode: relayCodecs.revokeRequest,
          pick: (frame) => frame.revoked ?? undefined,
        },
        request,
        token,
      ),
    openStream(token: string): ClientStream<ControllerMessage, DeviceResponse> {
      return controllerStream("CONNECT_TO_DEVICE", token, {
        encode: relayCodecs.controllerMessage,
        decode: controllerFrames((frame) => frame.response ?? undefined),
      });
    },
    close() {
      connection.close().finally(() => endpoint.close());
    },
  };
}
