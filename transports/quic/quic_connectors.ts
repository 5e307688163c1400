// Client side of the QUIC transport: raw QUIC with ALPN "relay.v1" (Deno's
// connectQuic takes the relay's CA; browsers use WebTransport instead).
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
  TunnelFrame,
  TunnelFrame__Output,
  TunnelStream,
} from "../../src/sdk/connector.ts";
import { FrameReader } from "./frame_stream.ts";
import type { BidirectionalStream } from "./quic_stream_link.ts";
import { type MessageCodec, relayCodecs } from "./relay_codec.ts";
import { RELAY_ALPN } from "./quic_relay_server.ts";

export interface QuicClientOptions {
  /** host:port of the relay's QUIC listener (relay.quic_address). */
  address: string;
  /** PEM of the CA that issued the relay certificate. */
  caPem?: string;
  /** TLS server name when it differs from the host in `address`. */
  serverName?: string;
  maxFrameBytes?: number;
  /** How long the QUIC handshake may take (default 5 s). */
  connectTimeoutMs?: number;
  keepAliveMs?: number;
  idleTimeoutMs?: number;
  /**
   * UDP endpoint to dial from, owned by the caller: many connectors (a
   * gateway hosting many devices) can share one socket. By default each
   * connector opens its own and keeps it for all its reconnects.
   */
  endpoint?: Deno.QuicEndpoint;
}

const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024;

/**
 * The UDP endpoint a connector dials from, kept across reconnects: Deno 2.9
 * keeps about 125 KB of native memory for every endpoint ever opened, even
 * closed and collected, so an endpoint per attempt made a device that
 * retried through a day-long outage grow by gigabytes (11 KB per attempt
 * on a kept endpoint).
 */
class DialEndpoint {
  readonly #shared: Deno.QuicEndpoint | undefined;
  #own: Deno.QuicEndpoint | undefined;

  constructor(shared: Deno.QuicEndpoint | undefined) {
    this.#shared = shared;
  }

  for(hostname: string): Deno.QuicEndpoint {
    return this.#shared ?? (this.#own ??= new Deno.QuicEndpoint({
      hostname: hostname.includes(":") ? "::" : "0.0.0.0",
    }));
  }

  /** Closes the connector's own endpoint (a shared one is the caller's). */
  close(): void {
    this.#own?.close();
    this.#own = undefined;
  }
}

/**
 * Opens a QUIC connection bounded by a timeout and cancelled by `signal`. An
 * attempt given up on cannot be stopped without closing the endpoint (which
 * the connector's other connections use): it runs out in the background, to
 * the idle timeout at most, and is closed if it still succeeds.
 */
async function connectQuic(
  options: QuicClientOptions,
  endpoint: DialEndpoint,
  signal?: AbortSignal,
): Promise<Deno.QuicConn> {
  const match = /^\[?([^\]]*)\]?:(\d+)$/.exec(options.address);
  if (!match) {
    throw new RelayError(
      "INVALID_REQUEST",
      `expected host:port, got ${options.address}`,
    );
  }
  const [, hostname, port] = match;
  const timeoutMs = options.connectTimeoutMs ?? 5000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const pending = Promise.resolve(Deno.connectQuic({
    endpoint: endpoint.for(hostname!),
    hostname: hostname!,
    port: Number(port),
    alpnProtocols: [RELAY_ALPN],
    ...(options.caPem ? { caCerts: [options.caPem] } : {}),
    ...(options.serverName ? { serverName: options.serverName } : {}),
    keepAliveInterval: options.keepAliveMs ?? 10_000,
    maxIdleTimeout: options.idleTimeoutMs ?? 30_000,
  }));
  try {
    return await Promise.race([
      pending,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new RelayError(
                "UNAVAILABLE",
                `QUIC handshake with ${options.address} timed out`,
              ),
            ),
          timeoutMs,
        );
        onAbort = () =>
          reject(
            new RelayError("CANCELLED", "QUIC connection attempt cancelled"),
          );
        if (signal?.aborted) onAbort();
        else signal?.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
  } catch (error) {
    pending.then(
      (late) => late.close({ closeCode: 0, reason: "given up" }),
      () => undefined,
    );
    const message = (error as Error).message;
    throw error instanceof RelayError ? error : new RelayError(
      "UNAVAILABLE",
      `cannot reach ${options.address} over QUIC: ${message}`,
      // Refused before any crypto (the relay shedding handshakes): retrying
      // soon costs it little, so the agent's backoff stays short.
      { cause: error, refused: /refused to accept/.test(message) },
    );
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
}

interface OpenedStream {
  writer: WritableStreamDefaultWriter<Uint8Array>;
  frames: FrameReader;
}

/** A typed stream that starts with StreamOpen; `onEnd` runs when it is aborted. */
function quicClientStream<Out, In>(
  stream: Promise<BidirectionalStream>,
  open: StreamOpen,
  encode: MessageCodec<Out, unknown>,
  decode: (frame: Uint8Array) => In | undefined,
  options: QuicClientOptions & { onAbort?: () => void },
): ClientStream<Out, In> {
  const opened: Promise<OpenedStream> = stream.then(async (bidi) => {
    const writer = bidi.writable.getWriter();
    await writer.write(relayCodecs.open.frame(open));
    return {
      writer,
      frames: new FrameReader(
        bidi.readable,
        options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      ),
    };
  });
  const ready = opened.then(() => undefined);
  ready.catch(() => {
    // Reported to whoever sends or reads.
  });
  const failed = (error: unknown) =>
    error instanceof RelayError ? error : new RelayError(
      "UNAVAILABLE",
      `QUIC stream failed: ${(error as Error)?.message ?? error}`,
      {
        source: "upstream",
        cause: error,
      },
    );
  return {
    transport: "quic",
    ready,
    messages: {
      async *[Symbol.asyncIterator]() {
        try {
          const { frames } = await opened;
          for (
            let frame = await frames.next();
            frame !== undefined;
            frame = await frames.next()
          ) {
            const message = decode(frame);
            if (message !== undefined) yield message;
          }
        } catch (error) {
          throw failed(error);
        }
      },
    },
    async send(message: Out): Promise<void> {
      try {
        const { writer } = await opened;
        await writer.write(encode.frame(message));
      } catch (error) {
        throw failed(error);
      }
    },
    end(): void {
      opened.then(({ writer }) => writer.close()).catch(() => {
        // Already failed or closed.
      });
    },
    abort(): void {
      opened.then(({ writer, frames }) => {
        writer.abort().catch(() => undefined);
        frames.cancel();
      }).catch(() => undefined);
      options.onAbort?.();
    },
  };
}

/** Controller streams carry ControllerStreamFrame; an error frame ends them. */
function controllerFrames<T>(
  pick: (frame: ControllerStreamFrame__Output) => T | undefined,
) {
  return (bytes: Uint8Array): T | undefined => {
    const frame = relayCodecs.controllerFrame.decode(bytes);
    if (frame.error) {
      throw new RelayError(
        frame.error.code as RelayError["code"],
        frame.error.message,
        { source: "upstream" },
      );
    }
    return pick(frame);
  };
}

export function quicDeviceConnector(
  options: QuicClientOptions,
): DeviceConnector & { probe(): Promise<void> } {
  const endpoint = new DialEndpoint(options.endpoint);
  let current: Deno.QuicConn | undefined;
  /** Carries tunnels while no device stream's connection is up. */
  let tunnelConn: Promise<Deno.QuicConn> | undefined;
  const tunnelConnection = (): Promise<Deno.QuicConn> => {
    // Tunnels ride on the device stream's connection when there is one.
    if (current !== undefined) return Promise.resolve(current);
    if (tunnelConn === undefined) {
      const attempt = connectQuic(options, endpoint);
      tunnelConn = attempt;
      const forget = () => {
        if (tunnelConn === attempt) tunnelConn = undefined;
      };
      attempt.then((c) => c.closed.catch(() => undefined).finally(forget))
        .catch(forget);
    }
    return tunnelConn;
  };
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
      const stream = conn.then((connection) =>
        connection.createBidirectionalStream()
      );
      return quicClientStream<DeviceMessage, RelayMessage>(
        stream,
        { kind: "DEVICE_CONNECT", authorization: "" },
        relayCodecs.deviceMessage,
        (frame) => relayCodecs.relayMessage.decode(frame),
        {
          ...options,
          onAbort: () => {
            attempt.abort();
            conn.then((c) => c.close({ closeCode: 0, reason: "aborted" }))
              .catch(() => undefined);
          },
        },
      );
    },
    async probe() {
      const conn = await connectQuic(options, endpoint);
      conn.close({ closeCode: 0, reason: "probe" });
    },
    openTunnel(): TunnelStream {
      return quicClientStream<TunnelFrame, TunnelFrame__Output>(
        tunnelConnection().then((c) => c.createBidirectionalStream()),
        { kind: "TUNNEL", authorization: "" },
        relayCodecs.tunnelFrame,
        (frame) => relayCodecs.tunnelFrame.decode(frame),
        options,
      );
    },
    close() {
      const closing = [current, tunnelConn].map((conn) =>
        Promise.resolve(conn).then((c) => {
          c?.close({ closeCode: 0, reason: "closed" });
          return c?.closed;
        }).catch(() => undefined)
      );
      current = undefined;
      tunnelConn = undefined;
      // After the close frames went out, or the relay would see a timeout.
      Promise.all(closing).finally(() => endpoint.close());
    },
  };
}

export function quicControllerConnector(
  options: QuicClientOptions,
): ControllerConnector {
  const endpoint = new DialEndpoint(options.endpoint);
  let conn: Promise<Deno.QuicConn> | undefined;
  const connection = () => {
    if (conn === undefined) {
      const attempt = connectQuic(options, endpoint);
      conn = attempt;
      // A failed or closed connection is replaced on the next call.
      const forget = () => {
        if (conn === attempt) conn = undefined;
      };
      attempt.then((c) => c.closed.catch(() => undefined).finally(forget))
        .catch(forget);
    }
    return conn;
  };
  const stream = () => connection().then((c) => c.createBidirectionalStream());
  const unary = async <Request, Reply>(
    kind: NonNullable<StreamOpen["kind"]>,
    token: string,
    encode: MessageCodec<Request, unknown>,
    request: Request,
    pick: (frame: ControllerStreamFrame__Output) => Reply | undefined,
  ): Promise<Reply> => {
    const call = quicClientStream<Request, Reply>(
      stream(),
      { kind, authorization: token ? `Bearer ${token}` : "" },
      encode,
      controllerFrames(pick),
      options,
    );
    await call.send(request);
    call.end();
    for await (const reply of call.messages) return reply;
    throw new RelayError(
      "UNAVAILABLE",
      "relay ended the stream without a reply",
    );
  };
  return {
    transport: "quic",
    listOnlineDevices: (request, token) =>
      unary(
        "LIST_ONLINE_DEVICES",
        token,
        relayCodecs.listRequest,
        request,
        (frame) => frame.devices?.devices,
      ),
    revokeToken: (request, token) =>
      unary(
        "REVOKE_TOKEN",
        token,
        relayCodecs.revokeRequest,
        request,
        (frame) => frame.revoked ?? undefined,
      ),
    openStream(token: string): ClientStream<ControllerMessage, DeviceResponse> {
      return quicClientStream<ControllerMessage, DeviceResponse>(
        stream(),
        {
          kind: "CONNECT_TO_DEVICE",
          authorization: token ? `Bearer ${token}` : "",
        },
        relayCodecs.controllerMessage,
        controllerFrames((frame) => frame.response ?? undefined),
        options,
      );
    },
    close() {
      Promise.resolve(conn).then((c) => {
        c?.close({ closeCode: 0, reason: "closed" });
        return c?.closed;
      }).catch(() => undefined).finally(() => endpoint.close());
      conn = undefined;
    },
  };
}
