// A user-space UDP forwarder for tests, standing between clients (device
// agents) and one upstream (the relay's QUIC port), like a NAT box on an
// impaired link: each client source address gets its own upstream-facing
// socket (a "flow"); datagrams can be lost, delayed with jitter, reordered,
// duplicated or blackholed, from seeded randomness; `rebind()` moves every
// flow to a new source port mid-stream, so the upstream sees the client's
// address change (NAT rebinding) while the client notices nothing.
import { type Impairment, NO_IMPAIRMENT, planDelivery } from "./impairment.ts";
import { mulberry32 } from "./seeded_random.ts";
import { parseHostPort } from "../../src/config/host_port.ts";

export interface UdpForwarderOptions {
  /** Where client datagrams go, "host:port" (e.g. the relay's quicAddress). */
  upstream: string;
  /** Seed of the impairment randomness (each direction draws its own sequence). */
  seed?: number;
  /** Applied to each direction. */
  impairment?: Partial<Impairment>;
  /** Datagrams waiting for their delay, both directions together (default 4096). */
  maxQueued?: number;
  /** Client addresses tracked at once; the least recently active goes first (default 16). */
  maxFlows?: number;
  /** Retired upstream sockets kept open, silently dropping what reaches them (default 4). */
  maxRetired?: number;
}

export type Direction = "up" | "down";

export interface ForwarderStats {
  /** Datagrams received, per direction ("up": client to upstream). */
  received: Record<Direction, number>;
  /** Datagrams sent on, duplicates included. */
  delivered: Record<Direction, number>;
  lost: number;
  blackholed: number;
  duplicated: number;
  /** Dropped because `maxQueued` datagrams were already waiting. */
  overflowed: number;
  /** Arrived on an upstream socket retired by `rebind()` (dropped). */
  stale: number;
  /** Arrived on an upstream socket from somewhere other than the upstream. */
  foreign: number;
  sendErrors: number;
  rebinds: number;
}

interface UpstreamSocket {
  conn: Deno.DatagramConn;
  port: number;
  retired: boolean;
}

interface Flow {
  key: string;
  client: Deno.NetAddr;
  socket: UpstreamSocket;
  lastActive: number;
}

const MAX_DATAGRAM_BYTES = 65_535;

export class UdpForwarder {
  /** Drops every datagram, both ways, while true (queued ones included). */
  blackhole = false;
  readonly stats: ForwarderStats = {
    received: { up: 0, down: 0 },
    delivered: { up: 0, down: 0 },
    lost: 0,
    blackholed: 0,
    duplicated: 0,
    overflowed: 0,
    stale: 0,
    foreign: 0,
    sendErrors: 0,
    rebinds: 0,
  };
  readonly #upstream: Deno.NetAddr;
  readonly #listener: Deno.DatagramConn;
  readonly #random: Record<Direction, () => number>;
  readonly #maxQueued: number;
  readonly #maxFlows: number;
  readonly #maxRetired: number;
  readonly #flows = new Map<string, Flow>();
  readonly #retired: UpstreamSocket[] = [];
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #tasks = new Set<Promise<void>>();
  /** Datagrams waiting to be sent, per socket. */
  readonly #outboxes = new Map<
    Deno.DatagramConn,
    [Uint8Array, Deno.NetAddr][]
  >();
  /** Unexpected socket errors (a loop that hits one stops); empty in a healthy run. */
  readonly errors: unknown[] = [];
  #impairment: Impairment;
  #closed = false;

  constructor(options: UdpForwarderOptions) {
    const upstream = parseHostPort(options.upstream);
    this.#upstream = {
      transport: "udp",
      hostname: upstream.host,
      port: upstream.port,
    };
    const seed = options.seed ?? 1;
    this.#random = {
      up: mulberry32(seed),
      down: mulberry32(seed ^ 0x9e3779b9),
    };
    this.#impairment = { ...NO_IMPAIRMENT, ...options.impairment };
    this.#maxQueued = options.maxQueued ?? 4096;
    this.#maxFlows = options.maxFlows ?? 16;
    this.#maxRetired = options.maxRetired ?? 4;
    this.#listener = Deno.listenDatagram({
      transport: "udp",
      hostname: "127.0.0.1",
      port: 0,
    });
    this.#track(this.#pumpClients());
  }

  /** host:port clients send to. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  /** Current upstream-facing source port of each client flow. */
  get upstreamPorts(): number[] {
    return [...this.#flows.values()].map((flow) => flow.socket.port);
  }

  get impairment(): Readonly<Impairment> {
    return this.#impairment;
  }

  /** Changes the impairment of both directions from now on. */
  impair(impairment: Partial<Impairment>): void {
    this.#impairment = { ...this.#impairment, ...impairment };
  }

  /**
   * NAT rebinding: every flow gets a new upstream-facing socket (a new
   * source port) at once; datagrams still waiting for their delay leave
   * from the new one.
   * The old sockets stay open and drop what reaches them, as a NAT drops
   * traffic to a mapping it forgot. Returns the new ports.
   */
  rebind(): number[] {
    this.#assertOpen();
    this.stats.rebinds++;
    for (const flow of this.#flows.values()) {
      const old = flow.socket;
      old.retired = true;
      this.#retired.push(old);
      flow.socket = this.#openUpstream(flow.client);
    }
    while (this.#retired.length > this.#maxRetired) {
      closeQuietly(this.#retired.shift()!.conn);
    }
    return this.upstreamPorts;
  }

  /** Stops forwarding: cancels queued datagrams, closes every socket, waits for its loops. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const outbox of this.#outboxes.values()) outbox.length = 0;
    closeQuietly(this.#listener);
    for (const flow of this.#flows.values()) closeQuietly(flow.socket.conn);
    for (const socket of this.#retired) closeQuietly(socket.conn);
    this.#flows.clear();
    this.#retired.length = 0;
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }

  async #pumpClients(): Promise<void> {
    const buffer = new Uint8Array(MAX_DATAGRAM_BYTES);
    for (;;) {
      const received = await this.#receive(this.#listener, buffer);
      if (received === undefined || this.#closed) return;
      const [data, from] = received;
      this.stats.received.up++;
      const flow = this.#flowFor(from as Deno.NetAddr);
      flow.lastActive = performance.now();
      this.#schedule("up", data, () => [flow.socket.conn, this.#upstream]);
    }
  }

  async #pumpUpstream(
    socket: UpstreamSocket,
    client: Deno.NetAddr,
  ): Promise<void> {
    const buffer = new Uint8Array(MAX_DATAGRAM_BYTES);
    for (;;) {
      const received = await this.#receive(socket.conn, buffer);
      if (received === undefined || this.#closed) return;
      const [data, from] = received;
      const source = from as Deno.NetAddr;
      if (socket.retired) {
        this.stats.stale++;
      } else if (
        source.hostname !== this.#upstream.hostname ||
        source.port !== this.#upstream.port
      ) {
        this.stats.foreign++;
      } else {
        this.stats.received.down++;
        this.#schedule("down", data, () => [this.#listener, client]);
      }
    }
  }

  #flowFor(client: Deno.NetAddr): Flow {
    const key = `${client.hostname}:${client.port}`;
    const existing = this.#flows.get(key);
    if (existing !== undefined) return existing;
    if (this.#flows.size >= this.#maxFlows) {
      const oldest = [...this.#flows.values()].reduce((a, b) =>
        a.lastActive <= b.lastActive ? a : b
      );
      this.#flows.delete(oldest.key);
      closeQuietly(oldest.socket.conn);
    }
    const flow: Flow = {
      key,
      client,
      socket: this.#openUpstream(client),
      lastActive: performance.now(),
    };
    this.#flows.set(key, flow);
    return flow;
  }

  #openUpstream(client: Deno.NetAddr): UpstreamSocket {
    const conn = Deno.listenDatagram({
      transport: "udp",
      hostname: "127.0.0.1",
      port: 0,
    });
    const socket = {
      conn,
      port: (conn.addr as Deno.NetAddr).port,
      retired: false,
    };
    this.#track(this.#pumpUpstream(socket, client));
    return socket;
  }

  /**
   * Applies the impairment to one datagram; `route` is read at delivery
   * time, so a datagram queued before a rebind leaves from the new socket.
   */
  #schedule(
    direction: Direction,
    data: Uint8Array,
    route: () => [Deno.DatagramConn, Deno.NetAddr],
  ): void {
    if (this.blackhole) {
      this.stats.blackholed++;
      return;
    }
    const delays = planDelivery(this.#impairment, this.#random[direction]);
    if (delays.length === 0) this.stats.lost++;
    if (delays.length > 1) this.stats.duplicated++;
    for (const delay of delays) {
      if (delay <= 0) {
        this.#deliver(direction, data, route);
        continue;
      }
      if (this.#queued() >= this.#maxQueued) {
        this.stats.overflowed++;
        continue;
      }
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.#deliver(direction, data, route);
      }, delay);
      this.#timers.add(timer);
    }
  }

  #deliver(
    direction: Direction,
    data: Uint8Array,
    route: () => [Deno.DatagramConn, Deno.NetAddr],
  ): void {
    if (this.#closed) return;
    if (this.blackhole) {
      this.stats.blackholed++;
      return;
    }
    const [conn, to] = route();
    let outbox = this.#outboxes.get(conn);
    if (outbox === undefined) {
      this.#outboxes.set(conn, outbox = []);
      this.#track(this.#drain(conn, outbox));
    }
    if (this.#queued() >= this.#maxQueued) {
      this.stats.overflowed++;
      return;
    }
    this.stats.delivered[direction]++;
    outbox.push([data, to]);
  }

  /**
   * Sends one socket's datagrams one at a time: concurrent sends on one
   * socket do not keep their order.
   */
  async #drain(
    conn: Deno.DatagramConn,
    outbox: [Uint8Array, Deno.NetAddr][],
  ): Promise<void> {
    await Promise.resolve(); // let the caller queue the first datagram
    for (let next = outbox.shift(); next !== undefined; next = outbox.shift()) {
      try {
        await conn.send(next[0], next[1]);
      } catch {
        this.stats.sendErrors++; // socket closed (rebind, eviction, close)
      }
    }
    this.#outboxes.delete(conn);
  }

  #queued(): number {
    let queued = this.#timers.size;
    for (const outbox of this.#outboxes.values()) queued += outbox.length;
    return queued;
  }

  /**
   * The next datagram (copied out of `buffer`), or undefined once the
   * socket is closed or failed; a failure is recorded in `errors`.
   */
  async #receive(
    conn: Deno.DatagramConn,
    buffer: Uint8Array,
  ): Promise<[Uint8Array, Deno.Addr] | undefined> {
    try {
      const [view, from] = await conn.receive(buffer);
      return [view.slice(), from];
    } catch (error) {
      const closed = error instanceof Deno.errors.Interrupted ||
        error instanceof Deno.errors.BadResource;
      if (!closed && !this.#closed) this.errors.push(error);
      return undefined;
    }
  }

  /** Tracks a task that never rejects, so `close()` can wait for it. */
  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("forwarder is closed");
  }
}

function closeQuietly(conn: Deno.DatagramConn): void {
  try {
    conn.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}
