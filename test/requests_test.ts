import assert from "node:assert/strict";
import { contractTest, decode, encode } from "./harness.ts";

contractTest(
  "100 pipelined requests on one stream are each answered once, by sequence number",
  {},
  async (t) => {
    const agent = await t.device("pipe-1", { echo: false });
    const seen: string[] = [];
    agent.handle("reverse", async (request) => {
      seen.push(request.method);
      // Random delays so that answers come back out of order.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
      return encode(decode(request.payload).split("").reverse().join(""));
    });
    const session = t.controller().openSession("pipe-1");
    const inputs = Array.from({ length: 100 }, (_, i) => `request-${i}`);
    const replies = await Promise.all(
      inputs.map((input) => session.call("reverse", encode(input))),
    );
    assert.deepEqual(
      replies.map(decode),
      inputs.map((input) => input.split("").reverse().join("")),
    );
    assert.equal(
      seen.length,
      100,
      "each request reached the device exactly once",
    );
    assert.ok(
      seen.every((method) => method === "reverse"),
      "method_name delivered",
    );
    await session.close();
  },
);

contractTest(
  "the device sees method, controller id and the controller's sequence number",
  {},
  async (t) => {
    const agent = await t.device("meta-1", { echo: false });
    let seen:
      | { method: string; controllerId: string; sequenceNumber: number }
      | undefined;
    agent.handle("inspect", (request) => {
      seen = {
        method: request.method,
        controllerId: request.controllerId,
        sequenceNumber: request.sequenceNumber,
      };
      return new Uint8Array(0);
    });
    const session = t.controller().openSession("meta-1");
    await session.call("inspect", new Uint8Array(0), { sequenceNumber: 777 });
    assert.deepEqual(seen, {
      method: "inspect",
      controllerId: "admin",
      sequenceNumber: 777,
    });
  },
);
