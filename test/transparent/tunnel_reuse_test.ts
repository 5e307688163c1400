// A device's GRPC_CALL tunnel carries one call after another: sequential
// calls open one tunnel, concurrent ones a tunnel each and then reuse them; a
// cancelled call ends its tunnel, and a device agent that was replaced leaves
// no idle tunnel behind that a later call could pick. A device over its
// maxConcurrentGrpcCalls refuses the extra call on that call's tunnel.
import assert from "node:assert/strict";
import { grpcTarget } from "../../mod.ts";
import { eventually, type TestRelay } from "../harness.ts";
import { grpc } from "./relay_grpc_client.ts";
import { JsTestServer } from "./js_test_server.ts";
import { DEVICE_ID, rigTest } from "./transparent_rig.ts";

/** GRPC_CALL tunnels the relay has accepted so far (its debug log). */
function tunnelsOpened(t: TestRelay): number {
  return t.logLines.filter((line) =>
    line.includes('"msg":"tunnel opened"') &&
    line.includes('"kind":"GRPC_CALL"')
  ).length;
}

rigTest(
  "transparent calls reuse the device's tunnels: sequential calls one tunnel, concurrent ones a tunnel each",
  { server: () => JsTestServer.start() },
  async ({ t, svc, target }) => {
    for (let i = 0; i < 20; i++) {
      const { status, messages } = await svc.unary(target(), { text: `${i}` })
        .result;
      assert.equal(status.code, grpc.status.OK, status.details);
      assert.equal(messages[0]?.text, `${i}`);
    }
    assert.equal(tunnelsOpened(t), 1);

    const parallel = await Promise.all(
      Array.from(
        { length: 5 },
        (_, i) => svc.unary(target(), { text: `p${i}` }).result,
      ),
    );
    for (const { status } of parallel) {
      assert.equal(status.code, grpc.status.OK, status.details);
    }
    const afterParallel = tunnelsOpened(t);
    assert.ok(afterParallel <= 5, `${afterParallel} tunnels`);
    for (let i = 0; i < 10; i++) {
      const { status } = await svc.unary(target(), { text: "again" }).result;
      assert.equal(status.code, grpc.status.OK, status.details);
    }
    assert.equal(tunnelsOpened(t), afterParallel, "no new tunnel");
  },
);

rigTest(
  "a cancelled transparent call ends its tunnel; the next call gets a working one",
  { server: () => JsTestServer.start({ unaryDelayMs: 5_000 }) },
  async ({ t, svc, target, server }) => {
    const slow = svc.unary(target(), { text: "slow" });
    await eventually(() => server.counts.unary === 1, 3000, "the call");
    slow.cancel();
    assert.equal((await slow.result).status.code, grpc.status.CANCELLED);
    await eventually(() => server.counts.cancelled === 1, 3000, "the cancel");

    const next = await svc.unary(target({ timeoutMs: 200 }), { text: "next" })
      .result;
    // The server answers after 5 s: the deadline ends it, on a new tunnel.
    assert.equal(next.status.code, grpc.status.DEADLINE_EXCEEDED);
    assert.equal(tunnelsOpened(t), 2);
  },
);

rigTest(
  "after the device agent is replaced, calls go to the new agent's tunnels",
  { server: () => JsTestServer.start() },
  async ({ t, svc, target, agent, server }) => {
    const first = await svc.unary(target(), { text: "one" }).result;
    assert.equal(first.status.code, grpc.status.OK, first.status.details);
    await agent.close();
    await t.device(DEVICE_ID, {
      echo: false,
      grpcTarget: grpcTarget({ address: server.address }),
    });
    for (let i = 0; i < 3; i++) {
      const { status, messages } = await svc.unary(target(), { text: "two" })
        .result;
      assert.equal(status.code, grpc.status.OK, status.details);
      assert.equal(messages[0]?.text, "two");
    }
    assert.equal(tunnelsOpened(t), 2);
  },
);

rigTest(
  "a device over maxConcurrentGrpcCalls answers the extra call RESOURCE_EXHAUSTED, and serves again once calls end",
  { server: () => JsTestServer.start({ unaryDelayMs: 300 }) },
  async ({ t, svc, target, server }) => {
    await t.device("small-dev", {
      echo: false,
      grpcTarget: grpcTarget({ address: server.address }),
      maxConcurrentGrpcCalls: 2,
    });
    const small = target({ deviceId: "small-dev" });
    const results = await Promise.all(
      [0, 1, 2].map((i) => svc.unary(small, { text: `${i}` }).result),
    );
    const codes = results.map((result) => result.status.code).sort();
    assert.deepEqual(codes, [
      grpc.status.OK,
      grpc.status.OK,
      grpc.status.RESOURCE_EXHAUSTED,
    ]);
    const refused = results.find((result) =>
      result.status.code === grpc.status.RESOURCE_EXHAUSTED
    )!;
    assert.match(refused.status.details, /small-dev is serving 2 calls/);
    assert.equal(server.counts.unary, 2, "the refused call never reached it");
    const after = await svc.unary(small, { text: "after" }).result;
    assert.equal(after.status.code, grpc.status.OK, after.status.details);
  },
);
