// QUIC first, HTTP/2 as fallback (happy eyeballs): each connection attempt
// starts the preferred transport and, after a head start, the fallback; the
// first to be ready wins and the other is dropped. While on the fallback the
// connector probes the preferred transport so the agent can move back.
import { RelayError } from "../errors/relay_error.ts";
import { sleep } from "./backoff.ts";
import type {
  ClientStream,
  DeviceConnector,
  DeviceMessage,
  RelayMessage,
} from "./connector.ts";

export interface HappyEyeballsOptions {
  /** How long the preferred transport runs alone (default 300 ms). */
  headStartMs?: number;
  /** How often to probe the preferred transport while on the fallback (default 30 s). */
  probeIntervalMs?: number;
}

type DeviceStream = ClientStream<DeviceMessage, RelayMessage>;

export function happyEyeballsConnector(
  preferred: DeviceConnector & { probe(): Promise<void> },
  fallback: DeviceConnector,
  options: HappyEyeballsOptions = {},
): DeviceConnector {
  const headStartMs = options.headStartMs ?? 300;
  const probeIntervalMs = options.probeIntervalMs ?? 30_000;
  return {
    transport: "auto",
    connect(): DeviceStream {
      return race(preferred, fallback, headStartMs);
    },
    connectPreferred(): DeviceStream {
      return preferred.connect();
    },
    // Tunnels follow the agent: QUIC while its stream is on QUIC, else HTTP/2.
    ...(preferred.openTunnel && fallback.openTunnel
      ? {
        openTunnel: (transport?: string) =>
          transport === preferred.transport
            ? preferred.openTunnel!(transport)
            : fallback.openTunnel!(transport),
      }
      : {}),
    async preferredAvailable(
      current: string,
      signal: AbortSignal,
    ): Promise<void> {
      if (current === preferred.transport) return new Promise<void>(() => {});
      while (!signal.aborted) {
        await sleep(probeIntervalMs, signal);
        if (signal.aborted) break;
        try {
          await preferred.probe();
          return;
        } catch {
          // Still unreachable: probe again after the interval.
        }
      }
      return new Promise<void>(() => {});
    },
    close() {
      preferred.close();
      fallback.close();
    },
  };
}

function race(
  preferred: DeviceConnector,
  fallback: DeviceConnector,
  headStartMs: number,
): DeviceStream {
  const first = preferred.connect();
  let second: DeviceStream | undefined;
  let abandoned = false;
  const startFallback = () => {
    if (second === undefined && !abandoned) second = fallback.connect();
    return second!;
  };
  const winner: Promise<DeviceStream> = new Promise((resolve, reject) => {
    let failures = 0;
    const lose = (error: unknown) => {
      if (++failures === 2) reject(RelayError.from(error, "UNAVAILABLE"));
    };
    const timer = setTimeout(() => {
      const stream = startFallback();
      stream.ready.then(() => resolve(stream), lose);
    }, headStartMs);
    first.ready.then(() => {
      clearTimeout(timer);
      resolve(first);
    }, (error) => {
      clearTimeout(timer);
      lose(error);
      // The preferred transport failed before its head start ran out.
      const stream = startFallback();
      stream.ready.then(() => resolve(stream), lose);
    });
  });
  winner.then((chosen) => {
    for (const stream of [first, second]) {
      if (stream && stream !== chosen) stream.abort();
    }
  }, () => undefined);
  const ready = winner.then(() => undefined);
  ready.catch(() => {
    // Reported to whoever sends or reads.
  });
  let chosen: DeviceStream | undefined;
  winner.then((stream) => chosen = stream, () => undefined);
  return {
    get transport() {
      return chosen?.transport ?? "";
    },
    ready,
    messages: {
      async *[Symbol.asyncIterator]() {
        yield* (await winner).messages;
      },
    },
    async send(message) {
      await (await winner).send(message);
    },
    end() {
      winner.then((stream) => stream.end(), () => undefined);
    },
    abort() {
      abandoned = true;
      first.abort();
      second?.abort();
    },
  };
}
