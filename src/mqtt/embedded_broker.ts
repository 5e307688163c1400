// The embedded MQTT broker (aedes) used when no relay.mqtt.broker_address is
// configured: plain TCP MQTT on relay.mqtt.embedded_address for subscribers,
// and in-process connections for the relay's own client and MQTT tunnels.
// When the port cannot be bound the broker still runs in process (presence
// publishing and tunnels keep working; outside subscribers cannot connect).
import { Buffer } from "node:buffer";
import net from "node:net";
import type { Duplex } from "node:stream";
import { Aedes, type Client, type PublishPacket } from "aedes";
import { formatHostPort, parseHostPort } from "../config/host_port.ts";
import type { Logger } from "../observability/logger.ts";
import { duplexPair } from "./duplex_pair.ts";
import { waitAtMost } from "../limits/deadline.ts";

/** Topics only the relay itself may publish on the embedded broker. */
const RELAY_TOPICS = /^(relay\/|telemetry\/relay\/)/;
/** At close, how long subscribers' sockets get to take what was sent to them. */
const CLOSE_FLUSH_MS = 500;

export interface EmbeddedBrokerOptions {
  /** host:port of the TCP listener (port 0: any free port). */
  address: string;
  logger: Logger;
}

const DRAIN_TIMEOUT_MS = 5000;

export class EmbeddedBroker {
  readonly #aedes: Aedes;
  readonly #server: net.Server;
  /** Connections of the relay's own client: the only ones allowed to publish relay topics. */
  readonly #privileged = new WeakSet<Duplex>();
  readonly #sockets = new Set<net.Socket>();
  #listening = "";
  #listenError = "";

  private constructor(logger: Logger) {
    this.#aedes = new Aedes({
      // aedes waits for a slow subscriber before delivering to anyone else;
      // a client that stops reading is cut off after this, not 60 s.
      drainTimeout: DRAIN_TIMEOUT_MS,
      authorizePublish: (client, packet, callback) =>
        callback(this.#authorizePublish(client, packet)),
    });
    this.#server = net.createServer((socket) => {
      socket.on("error", (error) => {
        logger.debug("embedded MQTT connection error", {
          error: error.message,
        });
      });
      this.#sockets.add(socket);
      socket.once("close", () => this.#sockets.delete(socket));
      this.#aedes.handle(readsAllOnNull(socket));
    });
  }

  static async start(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
    const broker = new EmbeddedBroker(options.logger);
    await broker.#aedes.listen();
    await broker.#listen(options);
    return broker;
  }

  /** host:port the TCP listener is bound to, "" when it could not bind. */
  get listening(): string {
    return this.#listening;
  }

  /** Why the TCP listener could not bind ("" when it listens). */
  get listenError(): string {
    return this.#listenError;
  }

  /**
   * A new in-process connection to the broker; returns the client's end.
   * `privileged`: the relay's own client (may publish relay topics).
   */
  connectInProcess(privileged = false): Duplex {
    const [brokerSide, clientSide] = duplexPair();
    if (privileged) this.#privileged.add(brokerSide);
    this.#aedes.handle(readsAllOnNull(brokerSide));
    return clientSide;
  }

  /**
   * Stops accepting, lets subscribers receive what was published last (the
   * relay's shutdown status) by ending their sockets gracefully, then stops.
   */
  async close(): Promise<void> {
    const serverClosed = new Promise<void>((resolve) => {
      if (!this.#server.listening) return resolve();
      this.#server.close(() => resolve());
    });
    // Deliveries of the last publications are written on the next turns.
    await new Promise((resolve) => setTimeout(resolve, 10));
    await waitAtMost(
      Promise.all([...this.#sockets].map((socket) =>
        new Promise((resolve) => {
          socket.once("close", resolve);
          socket.end();
        })
      )),
      CLOSE_FLUSH_MS,
    );
    await new Promise<void>((resolve) => this.#aedes.close(() => resolve()));
    await serverClosed;
  }

  #authorizePublish(
    client: Client | null,
    packet: PublishPacket,
  ): Error | null {
    if (client === null || !RELAY_TOPICS.test(packet.topic)) return null;
    if (this.#privileged.has(client.conn as Duplex)) return null;
    return new Error(`only the relay may publish to ${packet.topic}`);
  }

  async #listen(options: EmbeddedBrokerOptions): Promise<void> {
    let host: string;
    try {
      const address = parseHostPort(options.address);
      host = address.host;
      await new Promise<void>((resolve, reject) => {
        this.#server.once("error", reject);
        this.#server.listen(address.port, host, () => {
          this.#server.off("error", reject);
          resolve();
        });
      });
    } catch (error) {
      this.#listenError = (error as Error).message;
      options.logger.error(
        "embedded MQTT broker cannot listen; in-process only",
        { address: options.address, reason: this.#listenError },
      );
      return;
    }
    const bound = this.#server.address() as net.AddressInfo;
    this.#listening = formatHostPort(host, bound.port);
  }
}

/**
 * aedes reads with `read(null)` once per 'readable' event and expects all
 * buffered bytes (Node's behaviour); Deno 2.9.6's node:stream returns one
 * buffered chunk, so aedes would fall behind and stall. Make `read()`
 * without a size return everything buffered.
 */
function readsAllOnNull<T extends Duplex>(stream: T): T {
  const read = stream.read.bind(stream);
  stream.read = (size?: number | null) => {
    if (size !== null && size !== undefined) return read(size);
    const chunks: Buffer[] = [];
    for (let chunk = read(); chunk !== null; chunk = read()) chunks.push(chunk);
    return chunks.length === 0
      ? null
      : chunks.length === 1
      ? chunks[0]
      : Buffer.concat(chunks);
  };
  return stream;
}
