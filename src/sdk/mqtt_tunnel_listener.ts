// The device side of the MQTT tunnel: a local TCP listener (e.g.
// 127.0.0.1:1883) for MQTT clients on the device's network. Every accepted
// connection opens one tunnel through the device's connector (QUIC while the
// agent is on QUIC, else HTTP/2), authenticated with the device credential,
// and its bytes travel unchanged both ways; the relay bridges them to its
// broker under the device's topic ACL. Each direction waits for its
// destination before reading more, so a slow client or a slow relay only
// slows its own connection; a client that reads nothing for
// `clientStallTimeoutMs` while data waits for it is dropped (and its tunnel
// reset), so it cannot hold the broker's deliveries for long.
import { formatHostPort } from "../config/host_port.ts";
import { RelayError } from "../errors/relay_error.ts";
import { withDeadline } from "../limits/deadline.ts";
import type { DeviceConnector, TunnelStream } from "./connector.ts";

const DEFAULT_STALL_TIMEOUT_MS = 30_000;

export interface MqttTunnelListenerOptions {
  /** The device's connector (the agent's); it must be able to open tunnels. */
  connector: Pick<DeviceConnector, "openTunnel">;
  deviceId: string;
  /** The device credential; every tunnel presents it. */
  token: string;
  /** Address to listen on (default 127.0.0.1). */
  hostname?: string;
  /** Port to listen on; 0 picks a free one (see `addr`). */
  port: number;
  /** The agent's current transport ("quic", "h2"), e.g. `() => agent.state.transport`. */
  transport?: () => string;
  /** Client connections served at once (default 256); more are closed at once. */
  maxConnections?: number;
  /** A client that takes no bytes for this long while some wait is dropped (default 30 s). */
  clientStallTimeoutMs?: number;
  /** Told when a tunnel ends with an error (refused credential, relay gone, ...). */
  onTunnelError?: (error: RelayError) => void;
}

export class MqttTunnelListener {
  readonly #options: MqttTunnelListenerOptions;
  readonly #sessions = new Map<Deno.TcpConn, Promise<void>>();
  #listener: Deno.TcpListener | undefined;
  #accepting: Promise<void> | undefined;
  #closed = false;

  constructor(options: MqttTunnelListenerOptions) {
    if (options.connector.openTunnel === undefined) {
      throw new RelayError(
        "INVALID_REQUEST",
        "this connector cannot open tunnels",
      );
    }
    this.#options = options;
  }

  /** Starts listening; returns the bound address. */
  listen(): Deno.NetAddr {
    if (this.#listener !== undefined) return this.addr;
    try {
      this.#listener = Deno.listen({
        hostname: this.#options.hostname ?? "127.0.0.1",
        port: this.#options.port,
      });
    } catch (error) {
      throw new RelayError(
        "UNAVAILABLE",
        `cannot listen for MQTT clients on ${
          formatHostPort(
            this.#options.hostname ?? "127.0.0.1",
            this.#options.port,
          )
        }: ${(error as Error).message}`,
        { cause: error },
      );
    }
    this.#accepting = this.#acceptLoop(this.#listener);
    return this.addr;
  }

  get addr(): Deno.NetAddr {
    if (this.#listener === undefined) {
      throw new RelayError("INVALID_REQUEST", "not listening");
    }
    return this.#listener.addr;
  }

  /** Client connections being served now. */
  get connections(): number {
    return this.#sessions.size;
  }

  /** Stops listening and drops every client connection (and its tunnel). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener?.close();
    await this.#accepting;
    for (const conn of this.#sessions.keys()) closeQuietly(conn);
    await Promise.all(this.#sessions.values());
  }

  async #acceptLoop(listener: Deno.TcpListener): Promise<void> {
    const max = this.#options.maxConnections ?? 256;
    try {
      for await (const conn of listener) {
        if (this.#sessions.size >= max) {
          closeQuietly(conn);
          continue;
        }
        conn.setNoDelay(true);
        const session = this.#serve(conn).finally(() =>
          this.#sessions.delete(conn)
        );
        this.#sessions.set(conn, session);
      }
    } catch (error) {
      if (!this.#closed) {
        this.#options.onTunnelError?.(RelayError.from(error, "UNAVAILABLE"));
      }
    }
  }

  async #serve(conn: Deno.TcpConn): Promise<void> {
    const { deviceId, token } = this.#options;
    const stream = this.#options.connector.openTunnel!(
      this.#options.transport?.(),
    );
    const client: ClientState = { gone: false, closing: false };
    let failure: RelayError | undefined;
    let up: Promise<void> | undefined;
    try {
      await stream.send({
        open: { device_id: deviceId, token, kind: "MQTT" },
      });
      up = clientToTunnel(conn, stream, client);
      await tunnelToClient(
        stream,
        conn,
        client,
        this.#options.clientStallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
      );
    } catch (error) {
      failure = RelayError.from(error, "UNAVAILABLE");
    } finally {
      // Either end is over: so are the client's connection and the tunnel.
      client.closing = true;
      closeQuietly(conn);
      stream.abort();
      await up;
    }
    if (failure !== undefined && !client.gone && !this.#closed) {
      this.#options.onTunnelError?.(failure);
    }
  }
}

interface ClientState {
  /** The client went away first (its failures are not the tunnel's). */
  gone: boolean;
  /** We are closing the client's connection ourselves. */
  closing: boolean;
}

/**
 * Client bytes into data frames; the client's end half-closes the tunnel, a
 * failed read (reset, our own close) drops it. A failed send is reported by
 * the other direction, which sees the same stream fail.
 */
async function clientToTunnel(
  conn: Deno.TcpConn,
  stream: TunnelStream,
  client: ClientState,
): Promise<void> {
  const reader = conn.readable.getReader();
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch {
      if (!client.closing) client.gone = true;
      stream.abort();
      return;
    }
    if (chunk.done) break;
    try {
      await stream.send({ data: chunk.value });
    } catch {
      return;
    }
  }
  stream.end();
}

/**
 * Data frames to the client until the relay ends the tunnel; an error frame
 * or a failed stream throws, and so does a client that takes nothing for
 * `stallTimeoutMs`. A client that cannot be written to is gone.
 */
async function tunnelToClient(
  stream: TunnelStream,
  conn: Deno.TcpConn,
  client: ClientState,
  stallTimeoutMs: number,
): Promise<void> {
  const writer = conn.writable.getWriter();
  for await (const frame of stream.messages) {
    if (frame.error) {
      throw new RelayError(
        frame.error.code as RelayError["code"],
        frame.error.message,
        { source: "upstream" },
      );
    }
    if (frame.data === undefined || frame.data.byteLength === 0) continue;
    const written = await withDeadline(
      writer.write(frame.data).then(() => true, () => false),
      stallTimeoutMs,
      {
        onTimeout: () =>
          new RelayError(
            "DEADLINE_EXCEEDED",
            `MQTT client ${addressOf(conn)} read nothing for ${
              stallTimeoutMs / 1000
            } s; dropped`,
            { source: "downstream" },
          ),
      },
    );
    if (!written) {
      client.gone = true;
      return;
    }
  }
}

function addressOf(conn: Deno.TcpConn): string {
  return formatHostPort(conn.remoteAddr.hostname, conn.remoteAddr.port);
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already (by the peer's end or by us): nothing left to release.
  }
}
