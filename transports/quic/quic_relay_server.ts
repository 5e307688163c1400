// QUIC adapter: relay.v1 over raw QUIC (ALPN "relay.v1", Deno clients) and
// over HTTP/3 WebTransport (ALPN "h3", browsers), on one UDP endpoint with
// the same certificate as the gRPC listener. Each stream starts with a
// StreamOpen frame naming what it carries (stream_handlers.ts serves each
// kind); every controller session has its own stream, so a stalled one
// never delays another.
import type { RelayCore } from "../../src/core/relay_core.ts";
import { formatHostPort, parseHostPort } from "../../src/config/host_port.ts";
import { RelayError } from "../../src/errors/relay_error.ts";
import type { StreamOpen__Output as StreamOpen } from "../../src/gen/relay/v1/StreamOpen.ts";
import type { Logger } from "../../src/observability/logger.ts";
import { HandshakeAdmission } from "../../src/limits/handshake_admission.ts";
import { FrameReader } from "./frame_stream.ts";
import { RELAY_ALPN, WEBTRANSPORT_ALPN } from "./alpn.ts";
import type { BidirectionalStream } from "./message_stream.ts";
import { readStreamOpen } from "./opened_stream.ts";
import { handlerFor } from "./stream_handlers.ts";
import { waitAtMost } from "../../src/limits/deadline.ts";

export interface QuicRelayServerOptions {
  core: RelayCore;
  address: string;
  certPem: string;
  keyPem: string;
  maxFrameBytes: number;
  idleTimeoutMs: number;
  keepAliveMs: number;
  maxStreams: number;
  /** Time a new connection has to open a stream, and a stream to send StreamOpen. */
  handshakeTimeoutMs: number;
  /** Connections in their handshake at once; more are refused (CONNECTION_REFUSED). */
  maxPendingHandshakes: number;
  logger: Logger;
}

export class QuicRelayServer {
  readonly #options: QuicRelayServerOptions;
  #endpoint: Deno.QuicEndpoint | undefined;
  #listener: Deno.QuicListener | undefined;
  readonly #connections = new Set<Deno.QuicConn>();
  /**
   * Live WebTransport sessions, held until their connection ends: a session
   * nothing references is garbage collected, and with it the HTTP/3 control
   * and CONNECT streams it owns, which the browser sees as a lost connection.
   */
  readonly #webTransportSessions = new Set<WebTransport>();
  readonly #flushing = new Set<Promise<void>>();
  #accepting: Promise<void> | undefined;
  readonly #admission: HandshakeAdmission;

  constructor(options: QuicRelayServerOptions) {
    this.#options = options;
    this.#admission = new HandshakeAdmission(
      options.maxPendingHandshakes,
      () => options.core.gate.handshakeShed(),
    );
  }

  /** Binds the UDP endpoint and starts accepting; returns the bound port. */
  listen(): number {
    try {
      const { host, port } = parseHostPort(this.#options.address);
      this.#endpoint = new Deno.QuicEndpoint({ hostname: host, port });
      this.#listener = this.#endpoint.listen({
        cert: this.#options.certPem,
        key: this.#options.keyPem,
        alpnProtocols: [RELAY_ALPN, WEBTRANSPORT_ALPN],
        maxIdleTimeout: this.#options.idleTimeoutMs,
        keepAliveInterval: this.#options.keepAliveMs,
        maxConcurrentBidirectionalStreams: this.#options.maxStreams,
      });
    } catch (error) {
      this.#endpoint?.close();
      throw new RelayError(
        "UNAVAILABLE",
        `cannot listen for QUIC on relay.quic_address ${this.#options.address}: ${
          (error as Error).message
        }`,
        { cause: error },
      );
    }
    this.#accepting = this.#acceptLoop(this.#listener);
    return this.#endpoint.addr.port;
  }

  /** Stops accepting new connections; open ones continue. */
  stopAccepting(): void {
    this.#listener?.stop();
  }

  /**
   * Closes every connection once ended streams had time to deliver their
   * last frames: a QUIC connection close discards unacknowledged data, so
   * peers get `drainMs` to receive them (or to close first).
   */
  async close(drainMs = 250): Promise<void> {
    this.#listener?.stop();
    await waitAtMost(
      Promise.all([
        ...this.#flushing,
        ...[...this.#connections].map((conn) =>
          conn.closed.catch(() => undefined)
        ),
      ]),
      drainMs,
    );
    for (const conn of this.#connections) {
      conn.close({ closeCode: 0, reason: "relay shutting down" });
    }
    this.#endpoint?.close();
    await this.#accepting;
  }

  async #acceptLoop(listener: Deno.QuicListener): Promise<void> {
    try {
      for await (const incoming of listener) {
        const release = this.#admission.admit();
        if (release === undefined) {
          incoming.refuse();
          continue;
        }
        this.#accept(incoming, release).catch((error) => {
          // No incoming.remoteAddr here: once accept() consumed the incoming
          // connection, reading it throws (and would end the process).
          this.#options.core.metrics.quicHandshakeFailures.inc();
          this.#options.logger.warn("QUIC handshake failed", {
            reason: (error as Error).message,
          });
        });
      }
    } catch (error) {
      this.#options.logger.debug("QUIC listener stopped", {
        reason: (error as Error).message,
      });
    }
  }

  async #accept(
    incoming: Deno.QuicIncoming,
    handshakeDone: () => void,
  ): Promise<void> {
    const { core, handshakeTimeoutMs } = this.#options;
    let conn: Deno.QuicConn;
    try {
      conn = await incoming.accept();
    } finally {
      handshakeDone();
    }
    const peer = {
      remoteAddress: formatHostPort(
        conn.remoteAddr.hostname,
        conn.remoteAddr.port,
      ),
      transport: "quic",
    };
    this.#connections.add(conn);
    const connectionEnd = new AbortController();
    // A connection that opens no stream in time is closed: it holds state
    // without ever presenting a credential.
    const firstStream = setTimeout(() => {
      core.gate.handshakeTimedOut(peer, "no stream");
      conn.close({
        closeCode: 1,
        reason: "no stream within the handshake timeout",
      });
    }, handshakeTimeoutMs);
    conn.closed.catch(() => undefined).finally(() => {
      clearTimeout(firstStream);
      this.#connections.delete(conn);
      connectionEnd.abort();
    });
    const streams = conn.protocol === WEBTRANSPORT_ALPN
      ? await this.#webTransportStreams(conn, connectionEnd)
      : conn.incomingBidirectionalStreams;
    // A WebTransport session is itself the first stream (the CONNECT request).
    if (conn.protocol === WEBTRANSPORT_ALPN) clearTimeout(firstStream);
    const remote = () =>
      formatHostPort(conn.remoteAddr.hostname, conn.remoteAddr.port);
    try {
      for await (const stream of streams) {
        clearTimeout(firstStream);
        this.#serveStream(stream, remote(), connectionEnd.signal).catch(
          (error) => {
            this.#options.logger.debug("QUIC stream failed", {
              remote: remote(),
              reason: (error as Error).message,
            });
          },
        );
      }
    } catch {
      // The connection ended; its streams see that through connectionEnd.
    }
  }

  async #webTransportStreams(
    conn: Deno.QuicConn,
    connectionEnd: AbortController,
  ): Promise<ReadableStream<BidirectionalStream>> {
    const transport = await Deno.upgradeWebTransport(conn);
    this.#webTransportSessions.add(transport);
    // The session ends (browser gone, idle timeout) by rejecting `closed`:
    // observe it, or the rejection would be unhandled and end the process.
    transport.closed.catch(() => undefined).finally(() => {
      this.#webTransportSessions.delete(transport);
      connectionEnd.abort();
      conn.close({ closeCode: 0, reason: "session closed" });
    });
    await transport.ready;
    return transport.incomingBidirectionalStreams as ReadableStream<
      BidirectionalStream
    >;
  }

  async #serveStream(
    stream: BidirectionalStream,
    remoteAddress: string,
    connectionSignal: AbortSignal,
  ): Promise<void> {
    const { core, maxFrameBytes, handshakeTimeoutMs } = this.#options;
    const frames = new FrameReader(stream.readable, maxFrameBytes);
    let open: StreamOpen;
    try {
      open = await readStreamOpen(frames, handshakeTimeoutMs);
    } catch (error) {
      await frames.cancel();
      await stream.writable.abort(error).catch(() => undefined);
      throw error;
    }
    const trackClose = (flushed: Promise<void>) => {
      this.#flushing.add(flushed);
      flushed.finally(() => this.#flushing.delete(flushed));
    };
    await handlerFor(open.kind)({
      core,
      open,
      link: { stream, frames, remoteAddress, connectionSignal, trackClose },
    });
  }
}
