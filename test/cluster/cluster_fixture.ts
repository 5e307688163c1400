// Two relays of one cluster on a 3-node NATS cluster (real nats-server
// processes, relays in this process) for the cluster tests: one dev CA for
// both (relay B's state directory gets relay A's, so B's certificate is
// issued by it too, as docs/cluster.md asks) and one HS256 secret, so both
// relays verify the same controller tokens and trust each other's TLS.
import { mintControllerToken } from "../../src/auth/controller_auth.ts";
import { ClusterState } from "../../src/cluster/cluster_state.ts";
import {
  startTestRelay,
  type TestRelay,
  type TestTransport,
} from "../harness.ts";
import type { SystemTools } from "../system_tools.ts";
import { NatsCluster } from "./nats_cluster.ts";

/** relay.cluster.relay_ttl_seconds in these tests. */
export const RELAY_TTL_SECONDS = 1.5;
/** Both relays verify the same controller tokens (config, not the state dir). */
export const SECRET = btoa(
  String.fromCharCode(...crypto.getRandomValues(new Uint8Array(48))),
);

/**
 * Runs `body` against two fresh relays; `state` registers devices as
 * `relay token device` does in cluster mode; `stop` closes a relay early.
 */
export async function withRelays(
  tools: SystemTools,
  body: (
    relays: TestRelay[],
    state: ClusterState,
    stop: (relay: TestRelay) => Promise<void>,
  ) => Promise<void>,
  transport: TestTransport = "h2",
): Promise<void> {
  const nats = await NatsCluster.start(tools.path("nats-server"));
  const relays: TestRelay[] = [];
  const stateDirs: string[] = [];
  let state: ClusterState | undefined;
  try {
    let sharedCa: string | undefined;
    for (const [index, url] of nats.urls.slice(0, 2).entries()) {
      const stateDir = await Deno.makeTempDir({ prefix: "relay-cluster-" });
      stateDirs.push(stateDir);
      if (sharedCa !== undefined) {
        await Deno.copyFile(`${sharedCa}/ca.pem`, `${stateDir}/ca.pem`);
        await Deno.copyFile(`${sharedCa}/ca-key.pem`, `${stateDir}/ca-key.pem`);
      }
      sharedCa ??= stateDir;
      relays.push(
        await startTestRelay({
          transport,
          stateDir,
          config: {
            "relay.id": `relay-${index}`,
            "relay.cluster.nats_url": url,
            "relay.cluster.relay_ttl_seconds": RELAY_TTL_SECONDS,
            "relay.auth.jwt.hs256_secret": SECRET,
          },
        }),
      );
    }
    state = await ClusterState.open({ servers: [nats.urls[2]!] });
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

/** An operator token of `projects` both relays accept. */
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
