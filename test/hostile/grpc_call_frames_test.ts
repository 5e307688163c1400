// A hostile device on the transparent-call path: it registers as taking
// gRPC calls, then opens the call's tunnel wrongly or answers with frames
// that are not a gRPC call. Each case ends that one call with a status that
// names the cause (or refuses that one tunnel); the relay keeps serving.
import assert from "node:assert/strict";
import { deviceConnector } from "../../mod.ts";
import type { TunnelFrame } from "../../src/sdk/connector.ts";
import type { TestRelay } from "../harness.ts";
import { type RawDevice, rawDevice } from "../raw_device.ts";
import { hostileTest } from "./hostile_case.ts";
import { assertStillServes } from "./still_serves.ts";

const METHOD = "/hostile.v1.Target/Call";
const MAX_PAYLOAD = 64 * 1024;
const OPTIONS = { config: { "relay.request.max_payload_bytes": MAX_PAYLOAD } };

/** The next GrpcCallStart the relay sends the raw device. */
async function nextCallStart(device: RawDevice) {
  for (;;) {
    const message = await device.next();
    if (message.done) throw new Error("stream ended before a gRPC call");
    if (message.value.grpc_call) return message.value.grpc_call;
  }
}

/** A transparent call from an HTTP/2 controller, and the raw device's view of it. */
async function startCall(t: TestRelay, deviceId: string) {
  const credential = t.registerDevice(deviceId);
  const device = await rawDevice(t, deviceId, credential, { grpcTarget: true });
  const result = t.controller(undefined, { transport: "h2" }).grpcCall(
    deviceId,
    METHOD,
    new Uint8Array([1, 2, 3]),
    { timeoutMs: 4000 },
  );
  const start = await nextCallStart(device);
  const connector = deviceConnector(t.clientOptions);
  const tunnel = connector.openTunnel!();
  const open = (callId = start.call_id, id = deviceId, token = credential) =>
    tunnel.send({
      open: { device_id: id, token, kind: "GRPC_CALL", call_id: callId },
    });
  return {
    result,
    start,
    credential,
    tunnel,
    open,
    send: (frame: TunnelFrame) => tunnel.send(frame),
    close() {
      tunnel.abort();
      connector.close();
      device.drop();
    },
  };
}

/** The relay's answer to a tunnel: its error code, "" when it just ends. */
async function tunnelOutcome(
  tunnel: { messages: AsyncIterable<TunnelFrame> },
): Promise<string> {
  try {
    for await (const frame of tunnel.messages) {
      if (frame.error) return frame.error.code as string;
    }
    return "";
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

hostileTest(
  "a device answering a gRPC call with a non-gRPC frame fails that call with INTERNAL",
  OPTIONS,
  async (t) => {
    const call = await startCall(t, "hostile-grpc-1");
    try {
      await call.open();
      await call.send({ data: new Uint8Array([9, 9]) });
      const outcome = await call.result;
      assert.equal(outcome.code, 13, outcome.message); // INTERNAL
      assert.match(outcome.message, /not part of a gRPC call/);
    } finally {
      call.close();
    }
    await assertStillServes(t);
  },
);

hostileTest(
  "a device ending the call's tunnel without a status fails that call with UNAVAILABLE",
  OPTIONS,
  async (t) => {
    const call = await startCall(t, "hostile-grpc-2");
    try {
      await call.open();
      await call.send({ grpc: { message: new Uint8Array([1]) } });
      call.tunnel.end();
      const outcome = await call.result;
      assert.equal(outcome.code, 14, outcome.message); // UNAVAILABLE
      assert.match(outcome.message, /hostile-grpc-2/);
    } finally {
      call.close();
    }
    await assertStillServes(t);
  },
);

hostileTest(
  "a device's response message over the payload limit fails that call with RESOURCE_EXHAUSTED",
  OPTIONS,
  async (t) => {
    const call = await startCall(t, "hostile-grpc-3");
    try {
      await call.open();
      call.send({ grpc: { message: new Uint8Array(MAX_PAYLOAD + 1) } })
        .catch(() => {});
      const outcome = await call.result;
      assert.equal(outcome.code, 8, outcome.message); // RESOURCE_EXHAUSTED
      assert.match(outcome.message, /max_payload_bytes/);
    } finally {
      call.close();
    }
    await assertStillServes(t);
  },
);

hostileTest(
  "a call's tunnel opened with an unknown call id, or by another device, is refused",
  OPTIONS,
  async (t) => {
    const call = await startCall(t, "hostile-grpc-4");
    const other = "hostile-grpc-other";
    const otherCredential = t.registerDevice(other);
    try {
      // Another (authenticated) device presenting the call's id.
      const connector = deviceConnector(t.clientOptions);
      const stolen = connector.openTunnel!();
      await stolen.send({
        open: {
          device_id: other,
          token: otherCredential,
          kind: "GRPC_CALL",
          call_id: call.start.call_id,
        },
      });
      assert.notEqual(await tunnelOutcome(stolen), "");
      stolen.abort();
      connector.close();

      // A call id the relay never issued.
      await call.open("call-never-issued");
      assert.notEqual(await tunnelOutcome(call.tunnel), "");

      // The real call was not taken over: it still fails in its own time.
      const outcome = await call.result;
      assert.notEqual(outcome.code, 0);
    } finally {
      call.close();
    }
    await assertStillServes(t);
  },
);
