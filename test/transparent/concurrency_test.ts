// 100 transparent calls at once to one device, one of them stalled in its
// handler: the other 99 complete promptly (each call is its own tunnel
// stream, so one stalled call holds up nothing).
import assert from "node:assert/strict";
import { eventually } from "../harness.ts";
import { SystemTools } from "../system_tools.ts";
import { grpc } from "./relay_grpc_client.ts";
import { PYTHON_GRPC, pythonServer, rigTest } from "./transparent_rig.ts";

const tools = await SystemTools.check(PYTHON_GRPC);
const CALLS = 100;
/** For the 99 calls, all started at once (two cores shared by everything). */
const COMPLETION_BOUND_MS = 5000;

rigTest(
  "transparent calls: 100 concurrent calls to one device, one stalled: the other 99 complete promptly",
  pythonServer(tools),
  async ({ svc, target, server }) => {
    const tag = `stalled-${crypto.randomUUID()}`;
    const stalled = svc.block(target(), { tag });
    await eventually(
      () => server.saw("started", tag),
      COMPLETION_BOUND_MS,
      "the stalled call to reach its handler",
    );
    const started = performance.now();
    const results = await Promise.all(
      Array.from(
        { length: CALLS - 1 },
        (_, i) =>
          (i % 3 === 0
            ? svc.serverStream(target(), { text: `s${i}`, count: 2 })
            : svc.unary(target(), { text: `u${i}` })).result,
      ),
    );
    const elapsed = performance.now() - started;
    results.forEach(({ status, messages }, i) => {
      assert.equal(status.code, grpc.status.OK, `call ${i}: ${status.details}`);
      assert.deepEqual(
        messages.map((m) => m.text),
        i % 3 === 0 ? [`s${i}-0`, `s${i}-1`] : [`u${i}`],
      );
    });
    assert.ok(
      elapsed < COMPLETION_BOUND_MS,
      `99 calls took ${elapsed.toFixed(0)} ms`,
    );
    assert.equal(server.saw("finished", tag), false, "the stalled call stays");
    stalled.cancel();
    assert.equal((await stalled.result).status.code, grpc.status.CANCELLED);
    await eventually(
      () => server.saw("cancelled", tag),
      COMPLETION_BOUND_MS,
      "the stalled handler to see its cancellation",
    );
  },
);
