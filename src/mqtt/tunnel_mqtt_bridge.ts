// The MQTT tunnel handler: bridges one tunnel (one MQTT client session on
// the device's network) to a new connection to the relay's broker, through
// an MqttTunnelSession that enforces the device's topic ACL. Two pumps, one
// per direction, each waiting for its destination before reading more, so
// backpressure reaches the client (through the tunnel's flow control) and
// the broker (through TCP) and a stalled side only stalls this tunnel. A
// device side that takes nothing for `deviceStallTimeoutMs` while broker
// data waits ends the session: brokers that wait for a slow subscriber
// before delivering to anyone else (aedes, until its drainTimeout) are held
// up at most that long.
import { Counter, type Registry } from "prom-client";
import { RelayError } from "../errors/relay_error.ts";
import { withDeadline } from "../limits/deadline.ts";
import type { Logger } from "../observability/logger.ts";
import type { Tunnel, TunnelHandler } from "../tunnel/tunnel_service.ts";
import type { BrokerConnection, BrokerDialer } from "./mqtt_ports.ts";
import type { TopicAcl } from "./topic_acl.ts";
import {
  MqttTunnelSession,
  type RefusedPacket,
  type SessionOutput,
} from "./tunnel_mqtt_session.ts";
import { joinParts, MqttPacketFramer } from "./tunnel_packet_framer.ts";

export interface MqttTunnelOptions {
  dialer: BrokerDialer;
  acl: TopicAcl;
  /** Largest MQTT packet either way; a client exceeding it is disconnected. */
  maxPacketBytes: number;
  /** Presented to the broker instead of the client's credentials. */
  brokerCredentials?: { username: string; password: string };
  logger: Logger;
  /** Where relay_mqtt_tunnel_refusals_total is registered (none: not exported). */
  registry?: Registry;
  /** The device side may take nothing for this long while data waits (default 30 s). */
  deviceStallTimeoutMs?: number;
  /** Time a client has to send its CONNECT (default 10 s). */
  connectTimeoutMs?: number;
}

const DEFAULT_DEVICE_STALL_TIMEOUT_MS = 30_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** The handler to register for MQTT tunnels (`core.tunnels.register("MQTT", ...)`). */
export function mqttTunnelHandler(options: MqttTunnelOptions): TunnelHandler {
  const refusals = new Counter({
    name: "relay_mqtt_tunnel_refusals_total",
    help: "MQTT tunnel packets refused by the topic ACL or the protocol rules",
    labelNames: ["packet"],
    registers: options.registry ? [options.registry] : [],
  });
  return (tunnel) =>
    new MqttBridge(tunnel, options, (packet) => refusals.inc({ packet })).run();
}

class MqttBridge {
  readonly #tunnel: Tunnel;
  readonly #options: MqttTunnelOptions;
  readonly #session: MqttTunnelSession;
  readonly #fromClient: ReadableStreamDefaultReader<Uint8Array>;
  readonly #toClient: WritableStreamDefaultWriter<Uint8Array>;
  #broker: BrokerConnection | undefined;
  #toBroker: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #brokerPump: Promise<void> | undefined;
  /** Settles when the first pump ends: its outcome is the session's. */
  readonly #firstEnd = Promise.withResolvers<void>();
  #ended = false;
  #endReason = "";

  constructor(
    tunnel: Tunnel,
    options: MqttTunnelOptions,
    onRefusal: (packet: RefusedPacket) => void,
  ) {
    this.#tunnel = tunnel;
    this.#options = options;
    this.#session = new MqttTunnelSession({
      deviceId: tunnel.deviceId,
      acl: options.acl,
      ...(options.brokerCredentials
        ? { brokerCredentials: options.brokerCredentials }
        : {}),
      onRefusal,
    });
    this.#fromClient = tunnel.readable.getReader();
    this.#toClient = tunnel.writable.getWriter();
  }

  async run(): Promise<void> {
    const { signal } = this.#tunnel;
    const onAbort = () => this.#finish(Promise.resolve(), "tunnel ended");
    signal.addEventListener("abort", onAbort, { once: true });
    const clientPump = this.#pumpClient();
    this.#finish(clientPump, "client side ended");
    // A client that never speaks MQTT must not hold a tunnel.
    const connectTimeoutMs = this.#options.connectTimeoutMs ??
      DEFAULT_CONNECT_TIMEOUT_MS;
    const connectTimer = setTimeout(() => {
      if (this.#session.protocolVersion !== undefined) return;
      this.#finish(
        Promise.reject(
          new RelayError(
            "INVALID_REQUEST",
            `no MQTT CONNECT within ${connectTimeoutMs / 1000} s`,
            { source: "downstream" },
          ),
        ),
        "",
      );
    }, connectTimeoutMs);
    let failure: unknown;
    try {
      await this.#firstEnd.promise;
    } catch (error) {
      failure = error;
    } finally {
      clearTimeout(connectTimer);
      signal.removeEventListener("abort", onAbort);
      this.#fromClient.cancel().catch(() => undefined);
      this.#closeBroker();
      // A pump waiting for a stalled device must not outlive the tunnel.
      if (signal.aborted) {
        this.#toClient.abort(signal.reason).catch(() => undefined);
      }
    }
    // The other pump stops now that both ends are being closed.
    await Promise.allSettled([clientPump, this.#brokerPump]);
    this.#options.logger.debug("MQTT tunnel session ended", {
      device_id: this.#tunnel.deviceId,
      reason: this.#endReason,
    });
    if (signal.aborted) throw RelayError.from(signal.reason, "CANCELLED");
    if (failure !== undefined) throw RelayError.from(failure, "UNAVAILABLE");
    // Flush what is queued for the client, then the tunnel ends cleanly.
    await this.#toClient.close();
  }

  /** The first pump to end decides how the session ends. */
  #finish(pump: Promise<void>, reason: string): void {
    pump.then(
      () => {
        if (this.#ended) return;
        this.#ended = true;
        this.#endReason ||= reason;
        this.#firstEnd.resolve();
      },
      (error) => {
        if (this.#ended) return;
        this.#ended = true;
        this.#endReason ||= String((error as Error)?.message ?? error);
        this.#firstEnd.reject(error);
      },
    );
  }

  async #pumpClient(): Promise<void> {
    const framer = new MqttPacketFramer(this.#options.maxPacketBytes);
    while (!this.#ended) {
      const { value, done } = await this.#fromClient.read();
      if (done || this.#ended) return;
      let packets: Uint8Array[];
      const out: SessionOutput = { toBroker: [], toClient: [] };
      try {
        packets = framer.push(value);
      } catch (error) {
        packets = [];
        this.#session.framingFailed(
          out,
          framer.limitExceeded,
          (error as Error).message,
        );
      }
      for (const packet of packets) {
        this.#session.fromClient(packet, out);
        if (out.end !== undefined) break;
      }
      if (out.toBroker.length > 0) {
        try {
          await this.#sendToBroker(joinParts(out.toBroker));
        } catch (error) {
          if (this.#toBroker === undefined) await this.#answerUnreachable();
          throw error;
        }
      }
      if (out.toClient.length > 0) {
        await this.#sendToClient(joinParts(out.toClient));
      }
      if (out.end !== undefined) {
        this.#endReason = out.end;
        return;
      }
    }
  }

  /** The dial for the client's CONNECT failed: CONNACK "server unavailable", written before the tunnel's error. */
  async #answerUnreachable(): Promise<void> {
    const out: SessionOutput = { toBroker: [], toClient: [] };
    this.#session.brokerUnavailable(out);
    await this.#toClient.write(joinParts(out.toClient)).catch(() => undefined);
  }

  async #pumpBroker(broker: BrokerConnection): Promise<void> {
    const framer = new MqttPacketFramer(this.#options.maxPacketBytes);
    const reader = broker.readable.getReader();
    try {
      while (!this.#ended) {
        const { value, done } = await reader.read();
        if (done || this.#ended) return;
        const out: SessionOutput = { toBroker: [], toClient: [] };
        for (const packet of framer.push(value)) {
          this.#session.fromBroker(packet, out);
        }
        if (out.toClient.length > 0) {
          await this.#sendToClient(joinParts(out.toClient));
        }
      }
    } finally {
      reader.releaseLock();
    }
  }

  async #sendToBroker(bytes: Uint8Array): Promise<void> {
    if (this.#toBroker === undefined) await this.#dial();
    const writer = this.#toBroker!;
    await writer.ready;
    // Errors surface through `ready` and the broker pump; this one is observed.
    writer.write(bytes).catch(() => undefined);
  }

  async #sendToClient(bytes: Uint8Array): Promise<void> {
    const writer = this.#toClient;
    if ((writer.desiredSize ?? 0) <= 0) await this.#deviceTakes(writer.ready);
    writer.write(bytes).catch(() => undefined);
  }

  /** Waits for the device side, at most the stall timeout. */
  async #deviceTakes(ready: Promise<void>): Promise<void> {
    const timeoutMs = this.#options.deviceStallTimeoutMs ??
      DEFAULT_DEVICE_STALL_TIMEOUT_MS;
    await withDeadline(ready, timeoutMs, {
      onTimeout: () =>
        new RelayError(
          "DEADLINE_EXCEEDED",
          `the device took no MQTT data for ${
            timeoutMs / 1000
          } s; session ended`,
          { source: "downstream" },
        ),
    });
  }

  async #dial(): Promise<void> {
    let broker: BrokerConnection;
    try {
      broker = await this.#options.dialer.dial();
    } catch (error) {
      throw new RelayError(
        "UNAVAILABLE",
        `cannot reach the MQTT broker: ${(error as Error)?.message ?? error}`,
        { source: "upstream", cause: error },
      );
    }
    if (this.#ended) {
      broker.close();
      throw new RelayError("CANCELLED", "tunnel ended while dialing");
    }
    this.#broker = broker;
    this.#toBroker = broker.writable.getWriter();
    this.#brokerPump = this.#pumpBroker(broker);
    this.#finish(this.#brokerPump, "broker closed the connection");
  }

  #closeBroker(): void {
    const broker = this.#broker;
    if (broker === undefined) return;
    this.#toBroker?.releaseLock();
    try {
      broker.close();
    } catch (error) {
      this.#options.logger.debug("closing the broker connection failed", {
        reason: (error as Error).message,
      });
    }
  }
}
