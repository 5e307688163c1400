// An MQTT subscriber for tests (mqtt.js over real TCP): records every
// message with its arrival time and waits for the ones a test expects.
// Reconnects (and resubscribes) by itself, for broker restart tests.
import { connect, type IClientOptions, type MqttClient } from "mqtt";

export interface ReceivedMessage {
  topic: string;
  text: string;
  retain: boolean;
  /** Arrival, Unix ms (fractional). */
  at: number;
}

export class MqttSubscriber {
  readonly messages: ReceivedMessage[] = [];
  readonly #client: MqttClient;
  readonly #listeners = new Set<(message: ReceivedMessage) => void>();

  private constructor(client: MqttClient) {
    this.#client = client;
    client.on("message", (topic, payload, packet) => {
      const message = {
        topic,
        text: new TextDecoder().decode(payload),
        retain: packet.retain,
        at: performance.timeOrigin + performance.now(),
      };
      this.messages.push(message);
      for (const listener of [...this.#listeners]) listener(message);
    });
  }

  /** Connects and waits until the broker acknowledged the subscriptions. */
  static async connect(
    url: string,
    filters: string[],
    /** Extra mqtt.js options (ca, username, password). */
    options: IClientOptions = {},
  ): Promise<MqttSubscriber> {
    const client = connect(url, {
      protocolVersion: 4,
      reconnectPeriod: 50,
      connectTimeout: 2000,
      ...options,
    });
    client.on("error", () => {
      // Connection errors while a test broker is down: the client reconnects.
    });
    const subscriber = new MqttSubscriber(client);
    await new Promise<void>((resolve, reject) => {
      client.once("connect", () => {
        client.subscribe(filters, { qos: 1 }, (error) => {
          if (error) reject(error);
          else resolve();
        });
      });
    });
    return subscriber;
  }

  get connected(): boolean {
    return this.#client.connected;
  }

  /** Messages on `topic` so far (JSON-decoded; empty payloads as null). */
  json<T = Record<string, unknown>>(topic: string): (T | null)[] {
    return this.messages.filter((m) => m.topic === topic).map((m) =>
      m.text === "" ? null : JSON.parse(m.text) as T
    );
  }

  /**
   * The first message (already received, from index `from` on, or still to
   * come) that satisfies `match`.
   */
  waitFor(
    match: (message: ReceivedMessage) => boolean,
    what: string,
    options: { timeoutMs?: number; from?: number } = {},
  ): Promise<ReceivedMessage> {
    const found = this.messages.slice(options.from ?? 0).find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const listener = (message: ReceivedMessage) => {
        if (!match(message)) return;
        clearTimeout(timer);
        this.#listeners.delete(listener);
        resolve(message);
      };
      const timer = setTimeout(() => {
        this.#listeners.delete(listener);
        reject(new Error(`timed out waiting for MQTT message: ${what}`));
      }, options.timeoutMs ?? 5000);
      this.#listeners.add(listener);
    });
  }

  /** Waits for a JSON message on `topic` whose fields include `fields`. */
  async waitForJson<T = Record<string, unknown>>(
    topic: string,
    fields: Record<string, unknown>,
    options: { timeoutMs?: number; from?: number } = {},
  ): Promise<T & { received: ReceivedMessage }> {
    const message = await this.waitFor(
      (m) => m.topic === topic && m.text !== "" && matches(m.text, fields),
      `${topic} ${JSON.stringify(fields)}`,
      options,
    );
    return { ...JSON.parse(message.text), received: message };
  }

  /** Publishes from this subscriber's own connection (QoS 1). */
  publish(topic: string, payload: string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.#client.publish(
        topic,
        payload,
        { qos: 1 },
        (error) => error ? reject(error) : resolve(),
      )
    );
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) =>
      this.#client.end(true, {}, () => resolve())
    );
  }
}

function matches(text: string, fields: Record<string, unknown>): boolean {
  const value = JSON.parse(text) as Record<string, unknown>;
  return Object.entries(fields).every(([key, want]) => value[key] === want);
}
