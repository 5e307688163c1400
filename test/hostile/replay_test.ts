// Hostile input against idempotency: a sequence number replayed by another
// controller never returns the first controller's cached answer.
import assert from "node:assert/strict";
import { decode, encode } from "../harness.ts";
import { hostileTest, PLAINTEXT } from "./hostile_case.ts";
import { rawController } from "./raw_controller.ts";
import { assertStillServes } from "./still_serves.ts";

hostileTest(
  "replay: another controller's sequence number gets a fresh answer, never the cached one",
  {},
  async (t) => {
    const agent = await t.device("replay-dev", { echo: false });
    const seen: string[] = [];
    agent.handle("read", (request) => {
      seen.push(`${request.controllerId}:${decode(request.payload)}`);
      return encode(`for ${decode(request.payload)}`);
    });
    const tokenA = await t.token("operator", {
      id: "ctl-a",
      projects: ["default"],
    });
    const tokenB = await t.token("operator", {
      id: "ctl-b",
      projects: ["default"],
    });
    const a = t.controller(tokenA, PLAINTEXT).openSession("replay-dev");
    const b = t.controller(tokenB, PLAINTEXT).openSession("replay-dev");

    const answerA = await a.call("read", encode("A's secret"), {
      sequenceNumber: 7,
    });
    assert.equal(decode(answerA), "for A's secret");
    const answerB = await b.call("read", encode("B's request"), {
      sequenceNumber: 7,
    });
    assert.equal(decode(answerB), "for B's request");
    // A third controller repeating A's exact request (same number, same
    // content) gets its own delivery too.
    const tokenC = await t.token("operator", {
      id: "ctl-c",
      projects: ["default"],
    });
    const sameAsA = await t.controller(tokenC, PLAINTEXT).call(
      "replay-dev",
      "read",
      encode("A's secret"),
      { sequenceNumber: 7 },
    );
    assert.equal(decode(sameAsA), "for A's secret");
    assert.deepEqual(seen, [
      "ctl-a:A's secret",
      "ctl-b:B's request",
      "ctl-c:A's secret",
    ]);
    // A's own replay is served from the cache, without a second delivery.
    assert.equal(
      decode(
        await a.call("read", encode("A's secret"), { sequenceNumber: 7 }),
      ),
      "for A's secret",
    );
    assert.equal(seen.length, 3);
    await assertStillServes(t);
  },
);

hostileTest(
  "replay: claiming another controller's id in the message is refused",
  {},
  async (t) => {
    const agent = await t.device("replay-dev", { echo: false });
    let deliveries = 0;
    agent.handle("read", () => encode(`delivery ${++deliveries}`));
    const tokenA = await t.token("operator", {
      id: "ctl-a",
      projects: ["default"],
    });
    const tokenB = await t.token("operator", {
      id: "ctl-b",
      projects: ["default"],
    });
    const first = await t.controller(tokenA, PLAINTEXT).call(
      "replay-dev",
      "read",
      encode("q"),
      { sequenceNumber: 7 },
    );
    assert.equal(decode(first), "delivery 1");

    const b = rawController(t, tokenB);
    try {
      await b.send({
        controller_id: "ctl-a",
        target_device_id: "replay-dev",
        method_name: "read",
        sequence_number: 7,
        encrypted_payload: encode("q"),
      });
      const answer = await b.next();
      assert.equal(answer?.error, "UNAUTHORIZED");
      assert.match(answer?.error_message ?? "", /controller_id/);
      assert.equal(answer?.encrypted_payload.byteLength, 0, "nothing of A's");
    } finally {
      b.close();
    }
    assert.equal(deliveries, 1);
    await assertStillServes(t);
  },
);
