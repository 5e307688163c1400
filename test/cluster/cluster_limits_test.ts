// Rate limits per controller hold across the cluster, approximately: what a
// controller took on relay A is charged on relay B within one sync interval
// (relay.cluster.rate_limit_sync_seconds), so spreading its calls over the
// relays does not multiply its limit.
import assert from "node:assert/strict";
import { RelayError } from "../../src/errors/relay_error.ts";
import { encode } from "../harness.ts";
import { operatorToken, tools, withRelays } from "./cluster_fixture.ts";

const SYNC_SECONDS = 0.1;

tools.test("cluster: a controller that spent its request burst on relay A is rate limited on relay B", async () => {
  await withRelays(async ([a, b], state) => {
    await a!.device("limited", {
      token: await state.registerDevice("limited", "default"),
    });
    const token = await operatorToken();
    const call = (relay: typeof a) =>
      relay!.controller(token, { e2e: false }).openSession("limited")
        .call("echo", encode("x"), { timeoutMs: 5000 });
    for (let i = 0; i < 3; i++) await call(a);
    // On relay B alone the operator's bucket would be full (burst 3).
    await new Promise((resolve) => setTimeout(resolve, SYNC_SECONDS * 3000));
    await assert.rejects(
      call(b),
      (error) => error instanceof RelayError && error.code === "RATE_LIMITED",
    );
  }, {
    config: {
      "relay.cluster.rate_limit_sync_seconds": SYNC_SECONDS,
      "relay.rate_limits.requests.controller": { per_second: 0.2, burst: 3 },
    },
  });
});
