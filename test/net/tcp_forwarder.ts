// A TCP forwarder on loopback for tests: clients connect to `address` and
// reach `target`. `cut()` drops every forwarded connection at once and stops
// listening, as a network path that dies does (no graceful end reaches
// either side's protocol: the relay sees a transport drop).

export class TcpForwarder {
  readonly #listener: Deno.TcpListener;
  readonly #conns = new Set<Deno.TcpConn>();
  readonly #accepting: Promise<void>;

  private constructor(listener: Deno.TcpListener, target: string) {
    this.#listener = listener;
    const [hostname, port] = splitHostPort(target);
    this.#accepting = (async () => {
      for await (const client of listener) {
        Deno.connect({ hostname, port }).then((upstream) => {
          this.#conns.add(client).add(upstream);
          const pipe = (from: Deno.TcpConn, to: Deno.TcpConn) =>
            from.readable.pipeTo(to.writable).catch(() => {}).finally(() => {
              this.#close(from);
              this.#close(to);
            });
          pipe(client, upstream);
          pipe(upstream, client);
        }, () => this.#close(client));
      }
    })().catch(() => {});
  }

  static start(target: string): TcpForwarder {
    return new TcpForwarder(
      Deno.listen({ hostname: "127.0.0.1", port: 0 }),
      target,
    );
  }

  get address(): string {
    return `127.0.0.1:${this.#listener.addr.port}`;
  }

  /** Drops every connection and refuses new ones from now on. */
  async cut(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    for (const conn of this.#conns) this.#close(conn);
    await this.#accepting;
  }

  #close(conn: Deno.TcpConn): void {
    if (!this.#conns.delete(conn)) return;
    try {
      conn.close();
    } catch {
      // Closed by the pipe already.
    }
  }
}

function splitHostPort(address: string): [string, number] {
  const colon = address.lastIndexOf(":");
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}
