// The relay's own MQTT client: one connection to the broker at a time (a
// fresh mqtt.js client per attempt, its own reconnect off), reconnects with
// jittered exponential backoff, and a bounded outbound queue drained while
// connected. publish() never waits and never throws, so a broker outage never
// slows device or controller traffic. QoS 1 publications that were sent but
// not acknowledged when a connection dropped go out again after the
// reconnect (at least once); the relay's last will is registered on every
// connection.
import { Buffer } from "node:buffer";
import type { Duplex } from "node:stream";
import { type IClientOptions, MqttClient } from "mqtt";
import { waitAtMost } from "../limits/deadline.ts";
import type { Logger } from "../observability/logger.ts";
import type { MqttMetrics } from "./mqtt_metrics.ts";
import type { MqttPublisher, PublishOptions } from "./mqtt_ports.ts";
import { type Publication, PublishQueue } from "./publish_queue.ts";
import { reconnectDelayMs } from "./reconnect_backoff.ts";

/** Publications handed to the connection and not yet acknowledged, at most. */
const MAX_IN_FLIGHT = 64;
const CONNECT_TIMEOUT_MS = 10_000;
/** How long a clean DISCONNECT may take at close before the socket is cut. */
const END_TIMEOUT_MS = 1000;

export interface BrokerClientOptions {
  /** Where the broker is, for logs and /health (e.g. "mqtt://host:1883"). */
  label: string;
  clientId: string;
  /** Opens the byte stream of one connection attempt (socket or in-process pair). */
  openStream: () => Duplex;
  username: string;
  password: string;
  keepaliveSeconds: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  maxQueue: number;
  /** The last will, built for each connection attempt. */
  will: () => Publication;
  /**
   * Runs after every CONNACK, before the queue is drained: publications made
   * here with `urgent` go out first.
   */
  onConnect?: () => void;
  metrics: MqttMetrics;
  logger: Logger;
  random?: () => number;
}

export interface BrokerClientStatus {
  connected: boolean;
  /** Queued plus sent-and-unacknowledged publications. */
  queued: number;
  maxQueue: number;
  dropped: number;
  /** Why the last attempt or connection failed ("" when none did). */
  lastError: string;
  /** Unix ms of the last CONNACK or connection loss. */
  since: number;
}

export class BrokerClient implements MqttPublisher {
  readonly #options: BrokerClientOptions;
  readonly #queue: PublishQueue;
  /** In send order; removed when the broker acknowledges. */
  readonly #inFlight = new Set<Publication>();
  readonly #idleWaiters = new Set<() => void>();
  #client: MqttClient | undefined;
  #connected = false;
  #attempt = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #lastError = "";
  #since = Date.now();

  constructor(options: BrokerClientOptions) {
    this.#options = options;
    this.#queue = new PublishQueue(options.maxQueue);
  }

  get connected(): boolean {
    return this.#connected;
  }

  status(): BrokerClientStatus {
    return {
      connected: this.#connected,
      queued: this.#pending,
      maxQueue: this.#queue.max,
      dropped: this.#queue.dropped,
      lastError: this.#lastError,
      since: this.#since,
    };
  }

  /** Starts connecting (in the background; reconnects until close()). */
  start(): void {
    if (this.#client === undefined && !this.#closed) this.#connect();
  }

  publish(
    topic: string,
    payload: Uint8Array | string,
    options: PublishOptions,
  ): void {
    this.#enqueue({ topic, payload, qos: options.qos, retain: options.retain });
  }

  /** Queues ahead of everything else (the relay's status on connect and at shutdown). */
  publishUrgent(publication: Publication): void {
    if (this.#closed) return;
    this.#countDrops(this.#queue.pushFront(publication));
    this.#pump();
  }

  /**
   * Reads the retained messages matching `filter` once: subscribes, takes
   * what the broker delivers with the retain flag, unsubscribes. Rejects when
   * the connection is lost first.
   */
  scanRetained(
    filter: string,
    onMessage: (topic: string, payload: Uint8Array) => void,
  ): Promise<void> {
    const client = this.#client;
    if (client === undefined || !this.#connected) {
      return Promise.reject(new Error("not connected to the MQTT broker"));
    }
    return new Promise((resolve, reject) => {
      const onPacket = (
        topic: string,
        payload: Uint8Array,
        packet: { retain: boolean },
      ) => {
        if (packet.retain) onMessage(topic, payload);
      };
      const done = (error?: Error | null) => {
        client.off("message", onPacket);
        client.off("close", onClose);
        if (error) reject(error);
        else resolve();
      };
      const onClose = () => done(new Error("MQTT connection lost"));
      client.on("message", onPacket);
      client.once("close", onClose);
      client.subscribe(filter, { qos: 0 }, (error) => {
        if (error) return done(error);
        client.unsubscribe(filter, (unsubscribeError) => {
          done(unsubscribeError ?? null);
        });
      });
    });
  }

  /**
   * Waits until everything queued has been acknowledged, at most
   * `timeoutMs`; returns at once while disconnected (nothing can go out).
   */
  async flush(timeoutMs: number): Promise<boolean> {
    if (this.#pending === 0) return true;
    if (!this.#connected) return false;
    const idle = Promise.withResolvers<boolean>();
    const waiter = () => idle.resolve(this.#pending === 0);
    this.#idleWaiters.add(waiter);
    try {
      return await waitAtMost(idle.promise, timeoutMs) && await idle.promise;
    } finally {
      this.#idleWaiters.delete(waiter);
    }
  }

  /** Disconnects cleanly (no last will) and stops reconnecting. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    const client = this.#client;
    this.#client = undefined;
    this.#setConnected(false);
    this.#wakeIdleWaiters();
    if (client === undefined) return;
    const ended = new Promise<void>((resolve) =>
      client.end(false, {}, () => resolve())
    );
    if (!await waitAtMost(ended, END_TIMEOUT_MS)) client.end(true);
  }

  get #pending(): number {
    return this.#queue.length + this.#inFlight.size;
  }

  #enqueue(publication: Publication): void {
    if (this.#closed) return;
    this.#countDrops(this.#queue.push(publication));
    this.#pump();
  }

  #countDrops(dropped: number): void {
    if (dropped > 0) this.#options.metrics.dropped.inc(dropped);
    this.#options.metrics.queue.set(this.#pending);
  }

  #connect(): void {
    const options = this.#options;
    const will = options.will();
    const clientOptions: IClientOptions = {
      clientId: options.clientId,
      protocolVersion: 4,
      clean: true,
      keepalive: options.keepaliveSeconds,
      // Reconnects are ours (jittered backoff, a fresh client per attempt).
      reconnectPeriod: 0,
      connectTimeout: CONNECT_TIMEOUT_MS,
      resubscribe: false,
      queueQoSZero: false,
      will: {
        topic: will.topic,
        payload: toBuffer(will.payload),
        qos: will.qos,
        retain: will.retain,
      },
      ...(options.username !== "" ? { username: options.username } : {}),
      ...(options.password !== "" ? { password: options.password } : {}),
    };
    let client: MqttClient;
    try {
      client = new MqttClient(
        () => options.openStream() as MqttClient["stream"],
        clientOptions,
      );
    } catch (error) {
      this.#lastError = (error as Error).message;
      this.#scheduleReconnect(false);
      return;
    }
    this.#client = client;
    client.on("connect", () => {
      if (this.#client !== client) return;
      this.#attempt = 0;
      this.#lastError = "";
      this.#options.metrics.connects.inc({ result: "connected" });
      this.#setConnected(true);
      options.logger.info("MQTT broker connected", { broker: options.label });
      try {
        options.onConnect?.();
      } catch (error) {
        options.logger.error("MQTT on-connect step failed", {
          error: (error as Error).message,
        });
      }
      this.#pump();
    });
    client.on("error", (error) => {
      if (this.#client === client) this.#lastError = error.message;
    });
    client.on("close", () => {
      if (this.#client !== client) return;
      this.#client = undefined;
      const wasConnected = this.#connected;
      this.#setConnected(false);
      // Unacknowledged QoS 1/2 publications go out again after the reconnect.
      const unacknowledged = [...this.#inFlight].filter((p) => p.qos > 0);
      this.#inFlight.clear();
      this.#countDrops(this.#queue.requeue(unacknowledged));
      client.end(true);
      this.#wakeIdleWaiters();
      if (!this.#closed) this.#scheduleReconnect(wasConnected);
    });
  }

  #scheduleReconnect(wasConnected: boolean): void {
    const options = this.#options;
    if (!wasConnected) options.metrics.connects.inc({ result: "failed" });
    const delay = reconnectDelayMs(this.#attempt++, {
      minMs: options.reconnectMinMs,
      maxMs: options.reconnectMaxMs,
    }, options.random);
    const fields = {
      broker: options.label,
      reason: this.#lastError || "connection closed",
      retry_in_ms: Math.round(delay),
      queued: this.#pending,
    };
    // One warning per outage; later failed attempts only at debug level.
    if (wasConnected || this.#attempt === 1) {
      options.logger.warn(
        wasConnected
          ? "MQTT broker connection lost"
          : "MQTT broker unreachable",
        fields,
      );
    } else options.logger.debug("MQTT reconnect failed", fields);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (!this.#closed) this.#connect();
    }, delay);
  }

  #setConnected(connected: boolean): void {
    if (this.#connected !== connected) this.#since = Date.now();
    this.#connected = connected;
    this.#options.metrics.connected.set(connected ? 1 : 0);
  }

  /** Hands queued publications to the connection, at most MAX_IN_FLIGHT unacknowledged. */
  #pump(): void {
    const client = this.#client;
    while (
      client !== undefined && this.#connected &&
      this.#inFlight.size < MAX_IN_FLIGHT
    ) {
      const publication = this.#queue.shift();
      if (publication === undefined) break;
      this.#inFlight.add(publication);
      client.publish(
        publication.topic,
        toBuffer(publication.payload),
        { qos: publication.qos, retain: publication.retain },
        (error) => {
          if (this.#client !== client) return;
          this.#inFlight.delete(publication);
          if (error) {
            // Refused for good (e.g. an invalid topic): retrying cannot help.
            this.#options.metrics.dropped.inc();
            this.#options.logger.warn("MQTT publication refused", {
              topic: publication.topic,
              error: error.message,
            });
          } else this.#options.metrics.published.inc();
          this.#pump();
        },
      );
    }
    this.#options.metrics.queue.set(this.#pending);
    if (this.#pending === 0) this.#wakeIdleWaiters();
  }

  #wakeIdleWaiters(): void {
    for (const wake of [...this.#idleWaiters]) wake();
  }
}

function toBuffer(payload: Uint8Array | string): Buffer | string {
  return typeof payload === "string"
    ? payload
    : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
}
