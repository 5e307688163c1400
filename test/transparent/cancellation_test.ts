// Cancellation and deadlines of transparent calls reach the device's own
// handler (py_test_server.py records them): a client's cancel, and a
// deadline shorter than the handler, which ends the call with
// DEADLINE_EXCEEDED at about the deadline.
import assert from "node:assert/strict";
import { eventually } from "../harness.ts";
import { SystemTools } from "../system_tools.ts";
import { grpc } from "./relay_grpc_client.ts";
import { PYTHON_GRPC, pythonServer, rigTest } from "./transparent_rig.ts";

const tools = await SystemTools.check(PYTHON_GRPC);
/** From the client's cancel (or deadline) to the device handler seeing it. */
const PROPAGATION_BOUND_MS = 2000;
const DEADLINE_MS = 300;
/** How late after the deadline the client may get its status. */
const DEADLINE_SLACK_MS = 700;

rigTest(
  "transparent calls: a client's cancel reaches the device's handler",
  pythonServer(tools),
  async ({ svc, target, server }) => {
    const tag = `cancel-${crypto.randomUUID()}`;
    const call = svc.block(target(), { tag });
    await eventually(
      () => server.saw("started", tag),
      PROPAGATION_BOUND_MS,
      "the handler to start",
    );
    const cancelledAt = performance.now();
    call.cancel();
    const { status } = await call.result;
    assert.equal(status.code, grpc.status.CANCELLED);
    await eventually(
      () => server.saw("cancelled", tag),
      PROPAGATION_BOUND_MS,
      "the handler to see the cancellation",
    );
    assert.ok(
      performance.now() - cancelledAt < PROPAGATION_BOUND_MS,
      "cancellation reached the handler in time",
    );
    assert.equal(server.saw("finished", tag), false);
  },
);

rigTest(
  "transparent calls: a deadline shorter than the handler ends the call with DEADLINE_EXCEEDED, and the handler sees it",
  pythonServer(tools),
  async ({ svc, target, server }) => {
    const tag = `deadline-${crypto.randomUUID()}`;
    const { status, elapsedMs } = await svc.block(
      target({ timeoutMs: DEADLINE_MS }),
      { tag },
    ).result;
    assert.equal(status.code, grpc.status.DEADLINE_EXCEEDED, status.details);
    assert.ok(
      elapsedMs < DEADLINE_MS + DEADLINE_SLACK_MS,
      `DEADLINE_EXCEEDED after ${elapsedMs.toFixed(0)} ms`,
    );
    await eventually(
      () => server.saw("cancelled", tag),
      PROPAGATION_BOUND_MS,
      "the handler to see the deadline",
    );
    // The deadline reached the device's server (grpc-timeout), not only the relay.
    const { status: eventsStatus, messages } = await svc.events(target())
      .result;
    assert.equal(eventsStatus.code, grpc.status.OK, eventsStatus.details);
    const started = messages[0]!.events.find((e) =>
      e.tag === tag && e.kind === "started"
    );
    assert.ok(started, "Events lists the call");
    assert.ok(
      started.time_remaining_ms > 0 &&
        started.time_remaining_ms <= DEADLINE_MS,
      `the handler saw ${started.time_remaining_ms} ms left`,
    );
  },
);

rigTest(
  "transparent calls: a handler that ends within the deadline answers normally",
  pythonServer(tools),
  async ({ svc, target, server }) => {
    const tag = `short-${crypto.randomUUID()}`;
    const { status, messages } = await svc.block(
      target({ timeoutMs: 5000 }),
      { tag, sleep_ms: 50 },
    ).result;
    assert.equal(status.code, grpc.status.OK, status.details);
    assert.equal(messages[0]?.text, tag);
    assert.ok(server.saw("finished", tag));
  },
);
