import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { RelayError } from "../errors/relay_error.ts";
import { type DeliveryRequest, DeviceSession } from "./device_session.ts";
import type { DeviceLink } from "./links.ts";
import type { RelayMessage } from "./messages.ts";

/** A link that records what the session sends on it. */
function recordingLink(): DeviceLink & { sent: RelayMessage[] } {
  const sent: RelayMessage[] = [];
  return {
    transport: "test",
    remoteAddress: "127.0.0.1:1",
    messages: (async function* () {})(),
    signal: new AbortController().signal,
    sent,
    send: (message) => {
      sent.push(message);
      return Promise.resolve();
    },
    close: () => {},
  };
}

const session = (maxPending = 10) =>
  new DeviceSession({
    deviceId: "dev-1",
    project: "default",
    connectionId: "conn-1",
    metadata: {},
    grpcTarget: false,
    maxPending,
    now: Date.now(),
  });

const request = (controllerSequenceNumber: number): DeliveryRequest => ({
  methodName: "echo",
  payload: new Uint8Array([controllerSequenceNumber]),
  controllerId: "ctl-1",
  controllerSequenceNumber,
  traceparent: "",
  deadline: Date.now() + 5_000,
});

const answer = (deliveryId: number) => ({
  connection_id: "conn-1",
  sequence_number: deliveryId,
  encrypted_payload: Buffer.from([deliveryId]),
  error: "OK" as const,
  error_message: "",
});

Deno.test("each delivery gets its own number; the controller's number rides along", async () => {
  const s = session();
  const link = recordingLink();
  s.attach(link, 1, Date.now());
  const first = s.deliver(request(42), new AbortController().signal);
  const second = s.deliver(request(42), new AbortController().signal);
  const sent = link.sent.map((m) => m.data_request!);
  assert.deepEqual(sent.map((r) => r.sequence_number), [1, 2]);
  assert.deepEqual(sent.map((r) => r.controller_sequence_number), [42, 42]);
  assert.equal(sent[0]!.controller_id, "ctl-1");
  assert.ok(s.complete(answer(2)));
  assert.equal(s.complete(answer(2)), false, "settled only once");
  assert.deepEqual([...(await second).encrypted_payload], [2]);
  assert.ok(s.complete(answer(1)));
  assert.deepEqual([...(await first).encrypted_payload], [1]);
});

Deno.test("requests wait while detached and are sent again, same numbers, on resume", async () => {
  const s = session();
  const before = recordingLink();
  s.attach(before, 1, Date.now());
  const waiting = s.deliver(request(7), new AbortController().signal);
  s.detach();
  const queued = s.deliver(request(8), new AbortController().signal);
  const after = recordingLink();
  s.attach(after, 2, Date.now());
  assert.equal(after.sent.length, 0, "nothing before resendPending");
  s.resendPending();
  assert.deepEqual(
    after.sent.map((
      m,
    ) => [
      m.data_request!.sequence_number,
      m.data_request!.controller_sequence_number,
    ]),
    [[1, 7], [2, 8]],
  );
  s.complete(answer(1));
  s.complete(answer(2));
  await Promise.all([waiting, queued]);
});

Deno.test("a replaced session's requests move to the new one under new numbers", async () => {
  const old = session();
  const pending = old.deliver(request(5), new AbortController().signal);
  const fresh = session();
  const link = recordingLink();
  fresh.attach(link, 1, Date.now());
  fresh.deliver(request(9), new AbortController().signal).catch(() => {});
  fresh.adoptPending(old);
  fresh.resendPending();
  const numbers = link.sent.map((m) => m.data_request!.sequence_number);
  assert.deepEqual(numbers, [1, 1, 2], "9 sent at once, then 9 and 5 again");
  assert.equal(old.complete(answer(1)), false, "the old session holds nothing");
  assert.ok(fresh.complete(answer(2)));
  assert.deepEqual([...(await pending).encrypted_payload], [2]);
  fresh.failAll(new RelayError("CANCELLED", "test over"));
});

Deno.test("the pending bound refuses with RATE_LIMITED, an abort cancels one request, failAll the rest", async () => {
  const s = session(2);
  const aborter = new AbortController();
  const cancelled = s.deliver(request(1), aborter.signal);
  const failed = s.deliver(request(2), new AbortController().signal);
  await assert.rejects(
    s.deliver(request(3), new AbortController().signal),
    (error: RelayError) => error.code === "RATE_LIMITED",
  );
  aborter.abort(new RelayError("DEADLINE_EXCEEDED", "too late"));
  await assert.rejects(
    cancelled,
    (e: RelayError) => e.code === "DEADLINE_EXCEEDED",
  );
  s.failAll(new RelayError("DEVICE_OFFLINE", "gone"));
  await assert.rejects(failed, (e: RelayError) => e.code === "DEVICE_OFFLINE");
  assert.equal(s.complete(answer(2)), false);
});
