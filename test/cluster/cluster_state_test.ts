// The cluster's shared state (src/cluster/cluster_state.ts) on a real 3-node
// NATS cluster: what one relay writes, the others see (a device registered
// through one is verified by another; revocations hold everywhere, within
// 1 s, and for a relay that starts after them), and the loss of one NATS node
// of three changes nothing for readers or writers.
import assert from "node:assert/strict";
import {
  ClusterState,
  type ClusterStateChange,
} from "../../src/cluster/cluster_state.ts";
import { hashToken } from "../../src/auth/token_hash.ts";
import { eventually } from "../harness.ts";
import { NATS_SERVER, SystemTools } from "../system_tools.ts";
import { NatsCluster } from "./nats_cluster.ts";

const tools = await SystemTools.check(NATS_SERVER);
/** The bound for a revocation to reach every relay. */
const PROPAGATION_MS = 1000;
/** How long a watch may lag after the NATS node its consumer lived on died. */
const FAILOVER_MS = 15_000;

async function withCluster(
  body: (nats: NatsCluster, open: OpenState) => Promise<void>,
): Promise<void> {
  const nats = await NatsCluster.start(tools.path("nats-server"));
  const states: ClusterState[] = [];
  const open: OpenState = async (node, onChange) => {
    const state = await ClusterState.open({
      servers: [nats.urls[node]!],
      replicas: 3,
      openTimeoutMs: 15_000,
      ...(onChange ? { onChange } : {}),
    });
    states.push(state);
    return state;
  };
  try {
    await body(nats, open);
  } finally {
    await Promise.all(states.map((state) => state.close()));
    await nats.close();
  }
}

type OpenState = (
  node: number,
  onChange?: (change: ClusterStateChange) => void,
) => Promise<ClusterState>;

tools.test("cluster state: a device registered through one relay is verified by another; a revoked credential nowhere", async () => {
  await withCluster(async (_nats, open) => {
    const a = await open(0);
    const changes: ClusterStateChange[] = [];
    const b = await open(1, (change) => changes.push(change));
    const credential = await a.registerDevice("dev:1", "factory");
    assert.equal(
      a.verifyDeviceCredential("dev:1", credential)?.project,
      "factory",
    );
    await eventually(
      () => b.verifyDeviceCredential("dev:1", credential) !== undefined,
      PROPAGATION_MS,
      "relay B to know the device",
    );
    assert.equal(b.getDevice("dev:1")?.project, "factory");
    assert.equal(b.verifyDeviceCredential("dev:1", "rdc_wrong"), undefined);

    assert.equal(
      await b.revokeDeviceCredential(hashToken(credential)),
      "dev:1",
    );
    await eventually(
      () => a.verifyDeviceCredential("dev:1", credential) === undefined,
      PROPAGATION_MS,
      "relay A to refuse the revoked credential",
    );
    assert.ok(
      changes.some((c) =>
        c.kind === "device" && c.deviceId === "dev:1" && c.revoked
      ),
    );
    // Registered again: a new credential works, the old one still not.
    const renewed = await b.registerDevice("dev:1", "factory");
    await eventually(
      () => a.verifyDeviceCredential("dev:1", renewed) !== undefined,
      PROPAGATION_MS,
      "the new credential on relay A",
    );
    assert.equal(a.verifyDeviceCredential("dev:1", credential), undefined);
  });
});

tools.test("cluster state: token and jti revocations reach every relay within 1 s, and a relay started later", async () => {
  await withCluster(async (_nats, open) => {
    const a = await open(0);
    const changes: ClusterStateChange[] = [];
    const b = await open(2, (change) => changes.push(change));
    const tokenHash = hashToken("a controller token");
    const started = performance.now();
    await a.revokeToken(tokenHash, "controller", "laptop lost");
    await a.revokeJti("jti-42", "rotated");
    await eventually(
      () => b.isTokenRevoked(tokenHash) && b.isJtiRevoked("jti-42"),
      PROPAGATION_MS,
      "relay B to see both revocations",
    );
    assert.ok(performance.now() - started < PROPAGATION_MS);
    assert.deepEqual(
      changes.filter((c) => c.kind !== "device"),
      [
        { kind: "token_revoked", tokenHash },
        { kind: "jti_revoked", jti: "jti-42" },
      ],
    );
    // A relay that was not running when they were made.
    const late = await open(1);
    assert.ok(late.isTokenRevoked(tokenHash));
    assert.ok(late.isJtiRevoked("jti-42"));
    assert.ok(!late.isTokenRevoked(hashToken("another token")));
  });
});

tools.test("cluster state: one NATS node of three killed, relays on the others read and write as before", async () => {
  await withCluster(async (nats, open) => {
    const a = await open(0);
    const b = await open(1);
    const before = await a.registerDevice("dev-2", "default");
    await eventually(
      () => b.getDevice("dev-2") !== undefined,
      PROPAGATION_MS,
      "relay B to know dev-2",
    );
    await nats.kill(2);
    const killed = performance.now();
    const after = await b.registerDevice("dev-3", "default");
    await b.revokeToken(hashToken("t"), "controller", "test");
    const written = performance.now() - killed;
    // A watch whose consumer lived on the dead node is recreated by the
    // client once its heartbeats stop (FAILOVER_MS); until then it lags.
    await eventually(
      () =>
        a.verifyDeviceCredential("dev-3", after) !== undefined &&
        a.isTokenRevoked(hashToken("t")),
      FAILOVER_MS,
      "relay A to see the writes made after the node died",
    );
    console.log(
      `after the NATS node died: writes took ${written.toFixed(0)} ms, ` +
        `relay A saw them after ${(performance.now() - killed).toFixed(0)} ms`,
    );
    assert.ok(a.verifyDeviceCredential("dev-2", before) !== undefined);
  });
});
