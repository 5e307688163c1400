import assert from "node:assert/strict";
import { RelayError } from "../errors/relay_error.ts";
import type { CallTunnel } from "./grpc_call_link.ts";
import { PendingCalls } from "./pending_calls.ts";

function tunnel(deviceId: string, callId: string): CallTunnel {
  return {
    deviceId,
    callId,
    frames: (async function* () {})(),
    send: () => Promise.resolve(),
    signal: new AbortController().signal,
  };
}

Deno.test("PendingCalls hands a call's tunnel to it once, and only its device's", async () => {
  const pending = new PendingCalls();
  const callId = pending.newCallId();
  assert.notEqual(callId, pending.newCallId());
  const waiting = pending.expect(callId, "dev-a", new AbortController().signal);

  // Another device naming the id, and an id never issued, are refused.
  await assert.rejects(
    pending.attach(tunnel("dev-b", callId)),
    (error) => error instanceof RelayError && error.code === "INVALID_REQUEST",
  );
  await assert.rejects(pending.attach(tunnel("dev-a", "never-issued")));
  assert.equal(pending.size, 1);

  const served = pending.attach(tunnel("dev-a", callId));
  const attached = await waiting;
  assert.equal(attached.tunnel.deviceId, "dev-a");
  assert.equal(pending.size, 0);
  // A second tunnel for the same call is refused.
  await assert.rejects(pending.attach(tunnel("dev-a", callId)));

  attached.end(new RelayError("CANCELLED", "caller gone"));
  await assert.rejects(
    served,
    (error) => error instanceof RelayError && error.code === "CANCELLED",
  );
});

Deno.test("PendingCalls: a call given up before its tunnel comes rejects with the reason and forgets the id", async () => {
  const pending = new PendingCalls();
  const callId = pending.newCallId();
  const abort = new AbortController();
  const waiting = pending.expect(callId, "dev-a", abort.signal);
  abort.abort(new RelayError("DEADLINE_EXCEEDED", "too late"));
  await assert.rejects(
    waiting,
    (error) =>
      error instanceof RelayError && error.code === "DEADLINE_EXCEEDED",
  );
  assert.equal(pending.size, 0);
  await assert.rejects(pending.attach(tunnel("dev-a", callId)));

  const clean = pending.expect("id-2", "dev-a", new AbortController().signal);
  const served = pending.attach(tunnel("dev-a", "id-2"));
  (await clean).end();
  await served;
});
