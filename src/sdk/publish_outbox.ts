// The device agent's publications (DevicePublish) and their acknowledgements
// (PublishAck). Bounded twice: at most `maxUnacked` publications wait for
// the relay's ack on the connection, and at most `maxQueued` more wait their
// turn, also while the agent is disconnected; a publication that finds the
// queue full is refused at once. A connection that ends takes its unacked
// publications with it (rejected UNAVAILABLE: the relay may or may not have
// forwarded them); queued ones go out on the next connection.
import { type ErrorCode, RelayError } from "../errors/relay_error.ts";
import type { DeviceMessage, RelayMessage } from "./connector.ts";

export type Qos = 0 | 1 | 2;

export interface PublishOptions {
  /** MQTT QoS the relay publishes with (default 0). */
  qos?: Qos;
  /** Publish as the topic's retained message (default false). */
  retain?: boolean;
  /** Gives up: a queued publication is dropped, a sent one is no longer awaited. */
  signal?: AbortSignal;
}

export interface PublishOutboxOptions {
  maxQueued: number;
  maxUnacked: number;
}

type Publish = NonNullable<DeviceMessage["publish"]>;
type Ack = NonNullable<RelayMessage["publish_ack"]>;
/** Writes one publication on the current connection. */
export type SendPublish = (publish: Publish) => Promise<void>;

interface Entry {
  topic: string;
  payload: Uint8Array;
  qos: Qos;
  retain: boolean;
  settle(error?: RelayError): void;
}

export class PublishOutbox {
  readonly #options: PublishOutboxOptions;
  readonly #queue: Entry[] = [];
  readonly #unacked = new Map<number, Entry>();
  #send: SendPublish | undefined;
  #nextId = 1;
  #closed: RelayError | undefined;

  constructor(options: PublishOutboxOptions) {
    this.#options = options;
  }

  /** Publications waiting to be sent, and sent ones waiting for their ack. */
  get size(): { queued: number; unacked: number } {
    return { queued: this.#queue.length, unacked: this.#unacked.size };
  }

  /** Resolves on the relay's OK; rejects with its refusal or a lost connection. */
  publish(
    topic: string,
    payload: Uint8Array,
    options: PublishOptions = {},
  ): Promise<void> {
    const qos = options.qos ?? 0;
    if (this.#closed) return Promise.reject(this.#closed);
    if (qos !== 0 && qos !== 1 && qos !== 2) {
      return Promise.reject(
        new RelayError("INVALID_REQUEST", `qos must be 0, 1 or 2, got ${qos}`),
      );
    }
    if (topic === "") {
      return Promise.reject(
        new RelayError("INVALID_REQUEST", "topic must not be empty"),
      );
    }
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(cancelled(signal));
    if (this.#queue.length >= this.#options.maxQueued) {
      return Promise.reject(this.#queueFull());
    }
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    let settled = false;
    const entry: Entry = {
      topic,
      payload,
      qos,
      retain: options.retain ?? false,
      settle: (error) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        if (error) reject(error);
        else resolve();
      },
    };
    const onAbort = () => {
      const index = this.#queue.indexOf(entry);
      if (index >= 0) this.#queue.splice(index, 1);
      entry.settle(cancelled(signal!));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#queue.push(entry);
    this.#flush();
    return promise;
  }

  /** A registered connection: queued publications go out on it. */
  attach(send: SendPublish): void {
    this.#send = send;
    this.#flush();
  }

  /** The connection ended: its unacked publications fail, queued ones wait. */
  detach(send: SendPublish, reason?: RelayError): void {
    if (this.#send !== send) return;
    this.#send = undefined;
    this.#failUnacked(reason);
  }

  acknowledge(ack: Ack): void {
    const entry = this.#unacked.get(ack.id);
    if (entry === undefined) return; // from a connection given up on
    this.#unacked.delete(ack.id);
    entry.settle(
      ack.error === "OK" ? undefined : new RelayError(
        ack.error as ErrorCode,
        ack.error_message || `publish refused (${ack.error})`,
        { source: "upstream" },
      ),
    );
    this.#flush();
  }

  /** Refuses everything, now and later. */
  close(reason: RelayError): void {
    this.#closed ??= reason;
    this.#send = undefined;
    this.#failUnacked(reason);
    for (const entry of this.#queue.splice(0)) entry.settle(reason);
  }

  #flush(): void {
    while (
      this.#send !== undefined && this.#queue.length > 0 &&
      this.#unacked.size < this.#options.maxUnacked
    ) {
      const entry = this.#queue.shift()!;
      const id = this.#nextId++;
      this.#unacked.set(id, entry);
      const send = this.#send;
      send({
        id,
        topic: entry.topic,
        payload: entry.payload,
        qos: entry.qos,
        retain: entry.retain,
      }).catch((error) => {
        // The connection is failing; the agent detaches it soon.
        if (this.#unacked.get(id) !== entry) return;
        this.#unacked.delete(id);
        entry.settle(lost(RelayError.from(error, "UNAVAILABLE")));
      });
    }
  }

  #failUnacked(reason: RelayError | undefined): void {
    const error = lost(reason);
    for (const entry of this.#unacked.values()) entry.settle(error);
    this.#unacked.clear();
  }

  #queueFull(): RelayError {
    const { maxQueued } = this.#options;
    return this.#send === undefined
      ? new RelayError(
        "UNAVAILABLE",
        `not connected to the relay and ${maxQueued} publications are already queued`,
      )
      : new RelayError(
        "RATE_LIMITED",
        `${maxQueued} publications are already waiting to be sent`,
      );
  }
}

function lost(reason: RelayError | undefined): RelayError {
  if (reason?.code === "CANCELLED") return reason;
  return new RelayError(
    "UNAVAILABLE",
    `connection to the relay ended before the publication was acknowledged${
      reason ? ` (${reason.code}: ${reason.message})` : ""
    }`,
    reason ? { cause: reason } : {},
  );
}

function cancelled(signal: AbortSignal): RelayError {
  return signal.reason instanceof RelayError
    ? signal.reason
    : new RelayError("CANCELLED", "publication cancelled");
}
