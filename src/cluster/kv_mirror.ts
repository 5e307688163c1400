// A JetStream KV bucket followed into memory: opened (created on first use,
// retried while JetStream elects its leaders), replayed, then followed. The
// watch replays and follows; a plain subscription to the bucket's subjects
// follows too, because a watch whose consumer lived on a NATS node that died
// lags until the client recreates it (seconds), while published values reach
// subscribers on every node at once. `apply` must be idempotent: a value can
// come twice. Writes are retried while a stream leader is being elected.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type KV, type KvEntry, Kvm } from "@nats-io/kv";
import { RelayError } from "../errors/relay_error.ts";
import { type NatsSecurity, redactedServers } from "./nats_options.ts";

/** Pause between attempts while JetStream elects its leaders. */
const RETRY_MS = 250;
/** One write's wait for its acknowledgement (a dead leader never sends one). */
const PUT_ATTEMPT_MS = 1000;

export interface KvMirrorOptions {
  bucket: string;
  replicas: number;
  /** Unix ms after which opening gives up (UNAVAILABLE). */
  giveUpAt: number;
  /** How long a write is retried while JetStream fails over. */
  writeTimeoutMs: number;
  /** A key's value (parsed JSON), or undefined when it was deleted. */
  apply(key: string, value: unknown): void;
}

/** A KV key (a subject token) for any text: base64url of its UTF-8. */
export function keyOf(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)))
    .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/**
 * Connects to NATS; rejects with UNAVAILABLE naming the servers, or
 * UNAUTHORIZED when NATS refused the credentials.
 */
export function connectNats(
  servers: string[],
  name: string,
  timeoutMs: number,
  security: NatsSecurity = {},
): Promise<NatsConnection> {
  return connect({
    ...security,
    servers,
    name,
    timeout: timeoutMs,
    maxReconnectAttempts: -1,
  }).catch((error) => {
    const message = (error as Error).message;
    if (/authori[sz]ation|authentication/i.test(message)) {
      ignoreLateReset();
      throw new RelayError(
        "UNAUTHORIZED",
        `NATS authorization failed at ${redactedServers(servers)}: ${message}` +
          " (check relay.cluster.creds_path, username/password or token)",
      );
    }
    throw new RelayError(
      "UNAVAILABLE",
      `cannot reach NATS at ${redactedServers(servers)}: ${message}`,
    );
  });
}

/**
 * After NATS refused the credentials it closes the connection with the
 * client's PING unread, so the socket is reset after the client let go of
 * it: Deno's node:net then throws ECONNRESET with no listener left, an
 * uncaught error that would end the process before the refusal is
 * reported. Ignored for a moment after a refusal, and only that error.
 */
function ignoreLateReset(): void {
  const listener = (event: ErrorEvent) => {
    if ((event.error as { code?: string } | null)?.code === "ECONNRESET") {
      event.preventDefault();
    }
  };
  globalThis.addEventListener("error", listener);
  setTimeout(() => globalThis.removeEventListener("error", listener), 2000);
}

export class KvMirror {
  readonly #kv: KV;
  readonly #writeTimeoutMs: number;
  #following: Promise<void> = Promise.resolve();

  private constructor(kv: KV, writeTimeoutMs: number) {
    this.#kv = kv;
    this.#writeTimeoutMs = writeTimeoutMs;
  }

  /** Resolves once the values already in the bucket are applied. */
  static async open(
    nc: NatsConnection,
    options: KvMirrorOptions,
  ): Promise<KvMirror> {
    const kv = await openBucket(nc, options);
    const mirror = new KvMirror(kv, options.writeTimeoutMs);
    await mirror.#follow(nc, options);
    return mirror;
  }

  /** Resolves when following stopped (the connection was drained or closed). */
  get stopped(): Promise<void> {
    return this.#following;
  }

  put(key: string, value: unknown): Promise<void> {
    return this.#retried((kv) =>
      kv.put(key, JSON.stringify(value), { timeout: PUT_ATTEMPT_MS })
    );
  }

  delete(key: string): Promise<void> {
    return this.#retried((kv) => kv.delete(key));
  }

  async #retried(write: (kv: KV) => Promise<unknown>): Promise<void> {
    const giveUpAt = Date.now() + this.#writeTimeoutMs;
    for (;;) {
      try {
        await write(this.#kv);
        return;
      } catch (error) {
        if (Date.now() + RETRY_MS > giveUpAt) {
          throw new RelayError(
            "UNAVAILABLE",
            `the cluster store did not take the write: ${
              (error as Error).message
            }`,
          );
        }
        await sleep(RETRY_MS);
      }
    }
  }

  async #follow(nc: NatsConnection, options: KvMirrorOptions): Promise<void> {
    const prefix = `$KV.${options.bucket}.`;
    const applySafely = (key: string, value: () => unknown) => {
      try {
        options.apply(key, value());
      } catch {
        // A value this relay cannot read is skipped, not fatal.
      }
    };
    nc.subscribe(`${prefix}>`, {
      callback: (error, message) => {
        if (error !== null) return;
        const operation = message.headers?.get("KV-Operation");
        const key = message.subject.slice(prefix.length);
        applySafely(
          key,
          () =>
            operation === "DEL" || operation === "PURGE"
              ? undefined
              : message.json(),
        );
      },
    });
    const { values } = await this.#kv.status();
    const watcher = await this.#kv.watch({ key: ">" });
    const initialized = Promise.withResolvers<void>();
    if (values === 0) initialized.resolve();
    this.#following = (async () => {
      for await (const entry of watcher) {
        applySafely(entry.key, () => entryValue(entry));
        // `delta` counts the values still to come of the initial replay.
        if (entry.delta === 0 || entry.isUpdate) initialized.resolve();
      }
    })().catch(() => {
      // The connection closed (drained or for good).
    });
    const timer = setTimeout(
      () =>
        initialized.reject(
          new RelayError(
            "UNAVAILABLE",
            `the cluster bucket ${options.bucket} did not replay in time`,
          ),
        ),
      Math.max(0, options.giveUpAt - Date.now()),
    );
    try {
      await initialized.promise;
    } finally {
      clearTimeout(timer);
    }
  }
}

function entryValue(entry: KvEntry): unknown {
  return entry.operation === "PUT" ? entry.json() : undefined;
}

async function openBucket(
  nc: NatsConnection,
  options: KvMirrorOptions,
): Promise<KV> {
  const kvm = new Kvm(nc);
  for (;;) {
    try {
      return await kvm.create(options.bucket, {
        history: 1,
        replicas: options.replicas,
      });
    } catch (error) {
      if (Date.now() + RETRY_MS > options.giveUpAt) {
        throw new RelayError(
          "UNAVAILABLE",
          `cannot open the cluster bucket ${options.bucket}: ${
            (error as Error).message
          }`,
        );
      }
      await sleep(RETRY_MS);
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
