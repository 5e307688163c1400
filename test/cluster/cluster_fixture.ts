// Relays of one cluster for tests: a real 3-node nats-server cluster and
// relays in this process, one per NATS node, sharing one dev CA (copied into
// each state directory, docs/cluster.md) and one controller token secret.
import { mintControllerToken } from "../../src/auth/controller_auth.ts";
import { ClusterState } from "../../src/cluster/cluster_state.ts";
import {
  startTestRelay,
  type TestRelay,
  type TestTransport,
} from "../harness.ts";
import { NATS_SERVER, SystemTools } from "../system_tools.ts";
import { NatsCluster } from "./nats_cluster.ts";

export const tools = await SystemTools.check(NATS_SERVER);
/** relay.cluster.relay_ttl_seconds in these tests. */
export const RELAY_TTL_SECONDS = 1.5;
/** Every relay verifies the same controller tokens (config, not the state dir). */
export const SECRET = btoa(
  String.fromCharCode(...crypto.getRandomValues(new Uint8Array(48))),
);

export interface ClusterOptions {
  transport?: TestTransport;
  /** Relays, one per NATS node (default 2; at most 3). */
  relays?: number;
  /** Config for every relay, on top of the cluster's. */
  config?: Record<string, unknown>;
}

export async function withRelays(
  body: (
    relays: TestRelay[],
    state: ClusterState,
    stop: (relay: TestRelay) => Promise<void>,
  ) => Promise<void>,
  transport: TestTransport | ClusterOptions = "h2",
): Promise<void> {
  const options = typeof transport === "string" ? { transport } : transport;
  const nats = await NatsCluster.start(tools.path("nats-server"));
  const relays: TestRelay[] = [];
  const stateDirs: string[] = [];
  let state: ClusterState | undefined;
  try {
    let sharedCa: string | undefined;
    for (
      const [index, url] of nats.urls.slice(0, options.relays ?? 2).entries()
    ) {
      const stateDir = await Deno.makeTempDir({ prefix: "relay-cluster-" });
      stateDirs.push(stateDir);
      if (sharedCa !== undefined) {
        await Deno.copyFile(`${sharedCa}/ca.pem`, `${stateDir}/ca.pem`);
        await Deno.copyFile(`${sharedCa}/ca-key.pem`, `${stateDir}/ca-key.pem`);
      }
      sharedCa ??= stateDir;
      relays.push(
        await startTestRelay({
          transport: options.transport ?? "h2",
          stateDir,
          config: {
            "relay.id": `relay-${index}`,
            "relay.cluster.nats_url": url,
            "relay.cluster.relay_ttl_seconds": RELAY_TTL_SECONDS,
            "relay.auth.jwt.hs256_secret": SECRET,
            ...options.config,
          },
        }),
      );
    }
    // What `relay token device` does in cluster mode.
    state = await ClusterState.open({ servers: [nats.urls.at(-1)!] });
    const stop = async (relay: TestRelay) => {
      relays.splice(relays.indexOf(relay), 1);
      await relay.close();
    };
    await body([...relays], state, stop);
  } finally {
    await state?.close();
    for (const relay of relays) await relay.close();
    await nats.close();
    for (const dir of stateDirs) await Deno.remove(dir, { recursive: true });
  }
}

export function operatorToken(projects = ["default"]): Promise<string> {
  return mintControllerToken({
    secret: SECRET,
    issuer: "grpc-relay",
    audience: "grpc-relay-controller",
    clockSkewSeconds: 0,
  }, {
    controllerId: "ops-1",
    role: "operator",
    projects,
    ttlSeconds: 3600,
  });
}
