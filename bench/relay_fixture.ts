// The system under test: an in-process relay with its HTTP/2 gRPC and QUIC
// listeners on ephemeral ports of one host address (loopback by default),
// real TLS (dev PKI in a temporary state directory) and a device registry
// the benchmark fills with its echo devices.
import { buildConfig } from "../src/config/load_config.ts";
import { Logger } from "../src/observability/logger.ts";
import { RelayStore } from "../src/store/relay_store.ts";
import { type RunningRelay, startRelay } from "../mod.ts";
import type { DirectTls } from "./direct_echo_server.ts";

export interface RelayFixture {
  relay: RunningRelay;
  /** The relay's dev TLS material, reused for the direct reference. */
  tls: DirectTls;
  /** Registers a device in the relay's store; returns its credential. */
  registerDevice(deviceId: string): string;
  close(): Promise<void>;
}

export interface RelayFixtureOptions {
  /** Address both listeners bind to (default 127.0.0.1). */
  host?: string;
  /** Extra dotted config keys, e.g. { "relay.idempotency.ttl_seconds": 1 }. */
  overrides?: Record<string, unknown>;
}

export async function startRelayFixture(
  options: RelayFixtureOptions = {},
): Promise<RelayFixture> {
  const host = options.host ?? "127.0.0.1";
  const stateDir = await Deno.makeTempDir({ prefix: "relay-bench-" });
  let relay: RunningRelay;
  try {
    const config = buildConfig({}, {}, {
      "relay.address": `${host}:0`,
      "relay.quic_address": `${host}:0`,
      "relay.state_dir": stateDir,
      "observability.health.address": "127.0.0.1:0",
      "relay.shutdown_grace_seconds": 1,
      // One controller drives one device far past the default per-caller
      // request limits; the global buckets (and their cost) stay on.
      "relay.rate_limits.requests.device": { per_second: 0, burst: 1 },
      "relay.rate_limits.requests.controller": { per_second: 0, burst: 1 },
      ...options.overrides,
    });
    relay = await startRelay(config, {
      logger: new Logger({ level: "error" }),
    });
  } catch (error) {
    await Deno.remove(stateDir, { recursive: true });
    throw error;
  }
  const close = async () => {
    try {
      await relay.shutdown();
    } finally {
      await Deno.remove(stateDir, { recursive: true });
    }
  };
  try {
    if (relay.quicAddress === "") {
      throw new Error("the relay started without its QUIC listener");
    }
    const tls: DirectTls = {
      caPem: await Deno.readTextFile(relay.paths.caCert),
      certPem: await Deno.readTextFile(relay.paths.serverCert),
      keyPem: await Deno.readTextFile(relay.paths.serverKey),
    };
    const registerDevice = (deviceId: string) => {
      const store = new RelayStore(relay.paths.database);
      try {
        return store.registerDevice(deviceId, "default");
      } finally {
        store.close();
      }
    };
    return { relay, tls, registerDevice, close };
  } catch (error) {
    await close();
    throw error;
  }
}
