// Dialling the relay's QUIC listener from a client: the UDP endpoint kept
// across reconnects, one bounded and cancellable connection attempt, and a
// connection shared by many streams that is dialled again once it ends.
import { RelayError } from "../../src/errors/relay_error.ts";
import { parseHostPort } from "../../src/config/host_port.ts";
import { RELAY_ALPN } from "./alpn.ts";
import { withDeadline } from "../../src/limits/deadline.ts";

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

/**
 * The UDP endpoint a connector dials from, kept across reconnects: Deno 2.9
 * keeps about 125 KB of native memory for every endpoint ever opened, even
 * closed and collected, so an endpoint per attempt made a device that
 * retried through a day-long outage grow by gigabytes (11 KB per attempt
 * on a kept endpoint).
 */
export class DialEndpoint {
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
export async function connectQuic(
  options: QuicClientOptions,
  endpoint: DialEndpoint,
  signal?: AbortSignal,
): Promise<Deno.QuicConn> {
  const { host, port } = parseHostPort(options.address);
  const timeoutMs = options.connectTimeoutMs ?? 5000;
  const pending = Promise.resolve(Deno.connectQuic({
    endpoint: endpoint.for(host),
    hostname: host,
    port,
    alpnProtocols: [RELAY_ALPN],
    ...(options.caPem ? { caCerts: [options.caPem] } : {}),
    ...(options.serverName ? { serverName: options.serverName } : {}),
    keepAliveInterval: options.keepAliveMs ?? 10_000,
    maxIdleTimeout: options.idleTimeoutMs ?? 30_000,
  }));
  try {
    return await withDeadline(pending, timeoutMs, {
      onTimeout: () =>
        new RelayError(
          "UNAVAILABLE",
          `QUIC handshake with ${options.address} timed out`,
        ),
      ...(signal ? { signal } : {}),
      onAbort: () =>
        new RelayError("CANCELLED", "QUIC connection attempt cancelled"),
    });
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
  }
}

/**
 * One connection for many streams, dialled on first use; a failed or closed
 * one is dialled again on the next use.
 */
export class SharedConnection {
  readonly #dial: () => Promise<Deno.QuicConn>;
  #conn: Promise<Deno.QuicConn> | undefined;

  constructor(dial: () => Promise<Deno.QuicConn>) {
    this.#dial = dial;
  }

  get(): Promise<Deno.QuicConn> {
    if (this.#conn === undefined) {
      const attempt = this.#dial();
      this.#conn = attempt;
      const forget = () => {
        if (this.#conn === attempt) this.#conn = undefined;
      };
      attempt.then((c) => c.closed.catch(() => undefined).finally(forget))
        .catch(forget);
    }
    return this.#conn;
  }

  /** Closes the connection (if any); resolves once its close went out. */
  close(): Promise<void> {
    const conn = this.#conn;
    this.#conn = undefined;
    return closeQuietly(conn);
  }
}

/** Closes a connection that may not exist or not have come up; resolves when it is closed. */
export function closeQuietly(
  conn: Deno.QuicConn | Promise<Deno.QuicConn> | undefined,
): Promise<void> {
  return Promise.resolve(conn).then((c) => {
    c?.close({ closeCode: 0, reason: "closed" });
    return c?.closed;
  }).then(() => undefined, () => undefined);
}
