// The device goes away in the middle of a server-streaming transparent call
// (its agent closes): the caller gets UNAVAILABLE promptly, not a hang until
// some deadline.
import assert from "node:assert/strict";
import { SystemTools } from "../system_tools.ts";
import { grpc } from "./relay_grpc_client.ts";
import { PYTHON_GRPC, pythonServer, rigTest } from "./transparent_rig.ts";

const tools = await SystemTools.check(PYTHON_GRPC);
/** From the agent's close to the caller's status. */
const STATUS_BOUND_MS = 2000;

rigTest(
  "transparent calls: the device going offline mid-stream ends the call with UNAVAILABLE promptly",
  pythonServer(tools),
  async ({ svc, target, agent }) => {
    // 1000 replies 20 ms apart: 20 s of stream, far beyond the bound.
    const call = svc.serverStream(target(), {
      text: "tick",
      count: 1000,
      interval_ms: 20,
    });
    await call.received(3);
    const closedAt = performance.now();
    const closing = agent.close();
    const { status } = await call.result;
    const waited = performance.now() - closedAt;
    await closing;
    assert.equal(status.code, grpc.status.UNAVAILABLE, status.details);
    assert.ok(
      waited < STATUS_BOUND_MS,
      `UNAVAILABLE ${waited.toFixed(0)} ms after the agent closed`,
    );
    assert.ok(call.messages.length < 1000);
    assert.deepEqual(
      call.messages.slice(0, 3).map((m) => m.text),
      ["tick-0", "tick-1", "tick-2"],
    );
  },
);
