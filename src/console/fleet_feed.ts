// Live fleet updates for the console: server-sent events written to a fetch
// response body. (EventSource cannot send an Authorization header, and the
// token must never go into a URL, so the page reads this stream with fetch
// and a ReadableStream reader.) A subscriber gets the devices it may see as
// one `snapshot`, then `changes` (upserts and removals) shortly after every
// presence change of this relay and at every refresh (which also catches
// other relays' devices in a cluster and re-checks the token: a revoked or
// expired one ends the stream with an `error` event). Bounded: a fixed
// number of subscribers, and a reader that falls behind by QUEUE_LIMIT
// events is cut off (the page reconnects and gets a fresh snapshot).
import type { ControllerPrincipal } from "../auth/controller_auth.ts";
import type { DeviceInfo } from "../core/messages.ts";
import { RelayError } from "../errors/relay_error.ts";

/** Events a subscriber may have unread before it is cut off. */
export const QUEUE_LIMIT = 64;
/** How soon after a presence change the subscribers hear of it. */
const NOTIFY_DELAY_MS = 100;

export interface DeviceRow {
  device_id: string;
  state: string;
  transport: string;
  project: string;
  connection_id: string;
  relay_address: string;
  /** Unix ms. */
  connected_at: number;
  last_seen: number;
  metadata: Record<string, string>;
  grpc_target: boolean;
}

export interface FleetFeedOptions {
  /** The devices `principal` may see, as ListOnlineDevices lists them. */
  list: (principal: ControllerPrincipal) => DeviceInfo[];
  /** Verifies the token again (revocation, expiry). */
  verify: (token: string) => Promise<ControllerPrincipal>;
  refreshMs: number;
  maxSubscribers: number;
}

interface Subscriber {
  principal: ControllerPrincipal;
  token: string;
  /** device_id -> the JSON last sent for it. */
  sent: Map<string, string>;
  send: (event: string, data: unknown) => boolean;
  /** Keeps the connection visibly alive (an SSE comment). */
  ping: () => void;
  end: () => void;
}

const encoder = new TextEncoder();

export class FleetFeed {
  readonly #options: FleetFeedOptions;
  readonly #subscribers = new Set<Subscriber>();
  #refreshTimer: ReturnType<typeof setInterval> | undefined;
  #notifyTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(options: FleetFeedOptions) {
    this.#options = options;
  }

  get subscribers(): number {
    return this.#subscribers.size;
  }

  /** The event stream of one subscriber (cancelled when the reader goes away). */
  subscribe(
    principal: ControllerPrincipal,
    token: string,
  ): ReadableStream<Uint8Array> {
    if (this.#closed) {
      throw new RelayError("UNAVAILABLE", "relay is shutting down");
    }
    if (this.#subscribers.size >= this.#options.maxSubscribers) {
      throw new RelayError(
        "RATE_LIMITED",
        `${this.#options.maxSubscribers} console streams are open already`,
      );
    }
    let subscriber: Subscriber;
    let ended = false;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        const end = () => {
          if (ended) return;
          ended = true;
          this.#unsubscribe(subscriber);
          controller.close();
        };
        const write = (text: string): boolean => {
          if (ended) return false;
          if ((controller.desiredSize ?? 1) <= 0) {
            end(); // too far behind: the page reconnects for a fresh snapshot
            return false;
          }
          controller.enqueue(encoder.encode(text));
          return true;
        };
        subscriber = {
          principal,
          token,
          sent: new Map(),
          send: (event, data) =>
            write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`),
          ping: () => void write(": keep-alive\n\n"),
          end,
        };
        this.#subscribers.add(subscriber);
        this.#startRefresh();
        const devices = this.#rows(principal);
        for (const row of devices) {
          subscriber.sent.set(row.device_id, JSON.stringify(row));
        }
        subscriber.send("snapshot", { devices });
      },
      cancel: () => {
        ended = true; // the reader is gone: nothing more to close
        this.#unsubscribe(subscriber);
      },
    }, new CountQueuingStrategy({ highWaterMark: QUEUE_LIMIT }));
  }

  /** A presence change here: every subscriber hears of it shortly. */
  notify(): void {
    if (this.#notifyTimer !== undefined || this.#subscribers.size === 0) return;
    this.#notifyTimer = setTimeout(() => {
      this.#notifyTimer = undefined;
      for (const subscriber of this.#subscribers) this.#flush(subscriber);
    }, NOTIFY_DELAY_MS);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#notifyTimer);
    for (const subscriber of [...this.#subscribers]) subscriber.end();
  }

  #rows(principal: ControllerPrincipal): DeviceRow[] {
    return this.#options.list(principal).map(deviceRow)
      .sort((a, b) => a.device_id.localeCompare(b.device_id));
  }

  /** Sends what changed for this subscriber since its last event. */
  #flush(subscriber: Subscriber): void {
    const upsert: DeviceRow[] = [];
    const seen = new Set<string>();
    for (const row of this.#rows(subscriber.principal)) {
      seen.add(row.device_id);
      const json = JSON.stringify(row);
      if (subscriber.sent.get(row.device_id) === json) continue;
      subscriber.sent.set(row.device_id, json);
      upsert.push(row);
    }
    const remove = [...subscriber.sent.keys()].filter((id) => !seen.has(id));
    for (const id of remove) subscriber.sent.delete(id);
    if (upsert.length > 0 || remove.length > 0) {
      subscriber.send("changes", { upsert, remove });
    }
  }

  async #refresh(): Promise<void> {
    for (const subscriber of [...this.#subscribers]) {
      try {
        subscriber.principal = await this.#options.verify(subscriber.token);
      } catch (error) {
        const relayError = RelayError.from(error);
        subscriber.send("error", {
          code: relayError.code,
          message: relayError.message,
        });
        subscriber.end();
        continue;
      }
      this.#flush(subscriber);
      subscriber.ping();
    }
  }

  #startRefresh(): void {
    this.#refreshTimer ??= setInterval(
      () => void this.#refresh(),
      this.#options.refreshMs,
    );
  }

  #unsubscribe(subscriber: Subscriber | undefined): void {
    if (subscriber === undefined) return;
    this.#subscribers.delete(subscriber);
    if (this.#subscribers.size === 0) {
      clearInterval(this.#refreshTimer);
      this.#refreshTimer = undefined;
      clearTimeout(this.#notifyTimer);
      this.#notifyTimer = undefined;
    }
  }
}

export function deviceRow(info: DeviceInfo): DeviceRow {
  return {
    device_id: info.device_id ?? "",
    state: String(info.state ?? "ONLINE"),
    transport: info.transport ?? "",
    project: info.project ?? "",
    connection_id: info.connection_id ?? "",
    relay_address: info.relay_address ?? "",
    connected_at: Number(info.connected_at ?? 0),
    last_seen: Number(info.last_seen ?? 0),
    metadata: info.metadata ?? {},
    grpc_target: info.grpc_target ?? false,
  };
}
