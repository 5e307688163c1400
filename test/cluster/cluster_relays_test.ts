// Two relays of one cluster on a 3-node NATS cluster (real processes for
// NATS, relays in this process): a device registered for the cluster
// connects to either relay, and a revocation made on one relay ends what it
// names on the other within 1 s: an operator's controller stream, a device's
// session.
import assert from "node:assert/strict";
import { mintControllerToken } from "../../src/auth/controller_auth.ts";
import { hashToken } from "../../src/auth/token_hash.ts";
import { ClusterState } from "../../src/cluster/cluster_state.ts";
import { RelayError } from "../../src/errors/relay_error.ts";
import {
  decode,
  encode,
  eventually,
  startTestRelay,
  type TestRelay,
} from "../harness.ts";
import { NATS_SERVER, SystemTools } from "../system_tools.ts";
import { NatsCluster } from "./nats_cluster.ts";

const tools = await SystemTools.check(NATS_SERVER);
const PROPAGATION_MS = 1000;
/** Both relays verify the same controller tokens (config, not the state dir). */
const SECRET = btoa(
  String.fromCharCode(...crypto.getRandomValues(new Uint8Array(48))),
);

async function withRelays(
  body: (relays: TestRelay[], state: ClusterState) => Promise<void>,
): Promise<void> {
  const nats = await NatsCluster.start(tools.path("nats-server"));
  const relays: TestRelay[] = [];
  let state: ClusterState | undefined;
  try {
    for (const [index, url] of nats.urls.slice(0, 2).entries()) {
      relays.push(
        await startTestRelay({
          config: {
            "relay.id": `relay-${index}`,
            "relay.cluster.nats_url": url,
            "relay.auth.jwt.hs256_secret": SECRET,
          },
        }),
      );
    }
    // What `relay token device` does in cluster mode.
    state = await ClusterState.open({ servers: [nats.urls[2]!] });
    await body(relays, state);
  } finally {
    await state?.close();
    for (const relay of relays) await relay.close();
    await nats.close();
  }
}

function operatorToken(): Promise<string> {
  return mintControllerToken({
    secret: SECRET,
    issuer: "grpc-relay",
    audience: "grpc-relay-controller",
    clockSkewSeconds: 0,
  }, {
    controllerId: "ops-1",
    role: "operator",
    projects: ["default"],
    ttlSeconds: 3600,
  });
}

tools.test("cluster: a device registered for the cluster connects to either relay; a revocation on one ends the stream held on the other", async () => {
  await withRelays(async ([a, b], state) => {
    const credential = await state.registerDevice("dev-c1", "default");
    // The device on relay B, a controller of relay B calling it.
    await b!.device("dev-c1", { token: credential });
    const token = await operatorToken();
    const session = b!.controller(token, { e2e: false }).openSession("dev-c1");
    assert.equal(
      decode(await session.call("echo", encode("before"))),
      "before",
    );

    // Revoked through relay A: relay B closes the operator's stream.
    const started = performance.now();
    const revoked = await a!.controller().revokeToken({ token });
    assert.equal(revoked.revoked, true);
    await assert.rejects(
      async () => {
        for (;;) {
          await session.call("echo", encode("after"), { timeoutMs: 500 });
          if (performance.now() - started > 3000) return;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      },
      (error) => error instanceof RelayError && error.code === "UNAUTHORIZED",
    );
    assert.ok(
      performance.now() - started < PROPAGATION_MS,
      `closed after ${(performance.now() - started).toFixed(0)} ms`,
    );
    // And the token is refused by relay B from now on.
    await assert.rejects(
      b!.controller(token).listDevices(),
      (error) => error instanceof RelayError && error.code === "UNAUTHORIZED",
    );
  });
});

tools.test("cluster: a device credential revoked on one relay evicts the device from the other", async () => {
  await withRelays(async ([a, b], state) => {
    const credential = await state.registerDevice("dev-c2", "default");
    const agent = await b!.device("dev-c2", { token: credential });
    const started = performance.now();
    await a!.controller().revokeToken({
      token: hashToken(credential),
      targetType: "DEVICE",
    });
    await eventually(
      () => agent.state.error?.code === "UNAUTHORIZED",
      PROPAGATION_MS,
      "relay B to evict dev-c2",
    );
    assert.ok(performance.now() - started < PROPAGATION_MS);
    assert.equal(
      (await b!.controller().listDevices()).some((d) =>
        d.device_id === "dev-c2" && d.state === "ONLINE"
      ),
      false,
    );
  });
});
