// Transparent calls, the four kinds: an ordinary grpc-js client calls
// py_test_server.py (grpcio) on the device through the relay's gRPC port,
// naming the device in relay-device-id; over both device transports.
import assert from "node:assert/strict";
import { SystemTools } from "../system_tools.ts";
import { grpc } from "./relay_grpc_client.ts";
import { assertMetadataPassthrough } from "./metadata_passthrough.ts";
import { PYTHON_GRPC, pythonServer, rigTest } from "./transparent_rig.ts";

const tools = await SystemTools.check(PYTHON_GRPC);
const OK = grpc.status.OK;

rigTest(
  "transparent calls: unary, server-, client- and bidi-streaming through the relay",
  pythonServer(tools),
  async ({ svc, target }) => {
    const unary = await svc.unary(target(), {
      text: "hello",
      payload: new Uint8Array([0, 1, 2, 255]),
    }).result;
    assert.equal(unary.status.code, OK, unary.status.details);
    assert.equal(unary.messages.length, 1);
    assert.equal(unary.messages[0]!.text, "hello");
    assert.deepEqual([...unary.messages[0]!.payload], [0, 1, 2, 255]);

    const stream = await svc.serverStream(target(), { text: "s", count: 5 })
      .result;
    assert.equal(stream.status.code, OK, stream.status.details);
    assert.deepEqual(stream.messages.map((m) => m.text), [
      "s-0",
      "s-1",
      "s-2",
      "s-3",
      "s-4",
    ]);

    const upload = svc.clientStream(target());
    for (const text of ["a", "b", "c"]) {
      upload.write({ text, payload: new Uint8Array(10) });
    }
    upload.end();
    const sum = await upload.result;
    assert.equal(sum.status.code, OK, sum.status.details);
    assert.deepEqual(sum.messages, [{
      count: 3,
      text: "abc",
      payload_bytes: 30,
    }]);

    // Each echo arrives before the next request is written: the call
    // streams both ways, nothing waits for the half-close.
    const bidi = svc.bidi(target());
    for (let i = 0; i < 5; i++) {
      bidi.write({ text: `m${i}` });
      await bidi.received(i + 1);
    }
    bidi.end();
    const echoed = await bidi.result;
    assert.equal(echoed.status.code, OK, echoed.status.details);
    assert.deepEqual(echoed.messages.map((m) => m.text), [
      "m0",
      "m1",
      "m2",
      "m3",
      "m4",
    ]);
  },
);

rigTest(
  "transparent calls: ListOnlineDevices says which devices take transparent calls",
  pythonServer(tools),
  async ({ t, addDevice, deviceId }) => {
    await addDevice("plain-dev", null);
    const devices = await t.controller().listDevices();
    const byId = new Map(devices.map((d) => [d.device_id, d.grpc_target]));
    assert.equal(byId.get(deviceId), true);
    assert.equal(byId.get("plain-dev"), false);
  },
);

rigTest(
  "transparent calls: the device gets the caller's metadata without authorization and relay-* keys; headers and trailers come back",
  pythonServer(tools),
  async ({ svc, target }) => {
    const trailers = await assertMetadataPassthrough(svc, target);
    const binTrailer = trailers.get("x-test-trailer-bin")[0];
    assert.ok(binTrailer instanceof Uint8Array, "x-test-trailer-bin is bytes");
    // py_test_server.py sends b"\x00\xfftrailer\x01".
    assert.deepEqual([...binTrailer], [
      0,
      0xff,
      ...new TextEncoder().encode("trailer"),
      1,
    ]);
  },
);

rigTest(
  "transparent calls: the device server's status, message and trailers pass through unchanged",
  pythonServer(tools),
  async ({ svc, target }) => {
    const detail = new Uint8Array([9, 0, 8, 255]);
    const codes = [
      grpc.status.FAILED_PRECONDITION,
      grpc.status.NOT_FOUND,
      grpc.status.PERMISSION_DENIED,
      grpc.status.UNAVAILABLE,
      grpc.status.UNAUTHENTICATED,
      grpc.status.UNKNOWN,
    ];
    for (const code of codes) {
      const message = `device says no (${code}): ünïcode % 100%`;
      const { status, messages } = await svc.fail(target(), {
        code,
        message,
        trailers: [
          { key: "x-reason", value: `reason-${code}` },
          { key: "x-detail-bin", bin_value: detail },
        ],
      }).result;
      assert.equal(status.code, code, `${code}: ${status.details}`);
      assert.equal(status.details, message);
      assert.deepEqual(messages, []);
      assert.deepEqual(status.metadata.get("x-reason"), [`reason-${code}`]);
      const bin = status.metadata.get("x-detail-bin")[0];
      assert.ok(bin instanceof Uint8Array, "x-detail-bin is bytes");
      assert.deepEqual([...bin], [...detail]);
    }
  },
);
