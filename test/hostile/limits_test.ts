// Hostile input against size limits: a payload above
// relay.request.max_payload_bytes fails that request only; a message above
// the transport's limit (gRPC: max payload + 64 KiB; QUIC: a frame header
// announcing more than the frame limit) closes only its own stream.
import assert from "node:assert/strict";
import { decode, encode, eventually } from "../harness.ts";
import { withDeadline } from "../with_deadline.ts";
import { hostileTest, PLAINTEXT } from "./hostile_case.ts";
import {
  controllerMessageBytes,
  deviceResponseOf,
  grpc,
  rawGrpcClient,
} from "./raw_grpc.ts";
import {
  controllerError,
  deviceError,
  frameHeader,
  openFrame,
  rawQuic,
  readToEnd,
} from "./raw_quic.ts";
import { relayCodecs as quicCodecs } from "../../transports/quic/relay_codec.ts";
import { encodeFrame } from "../../transports/quic/frame_stream.ts";
import { relayProto } from "../../transports/grpc/relay_proto.ts";
import { assertStillServes } from "./still_serves.ts";

const MAX_PAYLOAD = 1024;
const SMALL = { "relay.request.max_payload_bytes": MAX_PAYLOAD };
/** Larger than the gRPC listener's limit (max payload + 64 KiB envelope). */
const OVER_TRANSPORT_LIMIT = MAX_PAYLOAD + 64 * 1024 + 1024;
/** A frame length above any QUIC frame limit the relay may use. */
const HUGE_FRAME = 64 * 1024 * 1024;

hostileTest(
  "limits: an oversized payload is refused for that request only",
  { config: SMALL },
  async (t) => {
    const agent = await t.device("lim-dev", { echo: false });
    const sizes: number[] = [];
    agent.handle("*", (request) => {
      sizes.push(request.payload.byteLength);
      return encode(`got ${request.payload.byteLength}`);
    });
    const session = t.controller(undefined, PLAINTEXT).openSession("lim-dev");
    const [before, oversized, after] = await Promise.all([
      session.request("echo", new Uint8Array(100)),
      session.request("echo", new Uint8Array(MAX_PAYLOAD + 1)),
      session.request("echo", new Uint8Array(200)),
    ]);
    assert.equal(before.error, "OK");
    assert.equal(after.error, "OK");
    assert.equal(oversized.error, "INVALID_REQUEST");
    assert.match(oversized.error_message, /exceeds/);
    assert.match(oversized.error_message, new RegExp(String(MAX_PAYLOAD)));
    // The same stream keeps working.
    assert.equal(
      decode(await session.call("echo", new Uint8Array(512))),
      "got 512",
    );
    assert.ok(
      sizes.every((size) => size <= MAX_PAYLOAD),
      `the device never saw the oversized payload (${sizes})`,
    );
    await assertStillServes(t);
  },
);

const deviceConnect = () =>
  relayProto().relay.v1.RelayService.service.DeviceConnect;

hostileTest(
  "limits: a gRPC message above the transport limit closes only its stream",
  { config: SMALL, transports: ["h2"] },
  async (t) => {
    await t.device("lim-dev");
    const client = rawGrpcClient(t);
    try {
      const good = client.stream("ConnectToDevice", t.relay.adminToken);
      const request = (sequence: number, payload: Uint8Array) =>
        controllerMessageBytes({
          target_device_id: "lim-dev",
          method_name: "echo",
          sequence_number: sequence,
          encrypted_payload: payload,
          timeout_ms: 3000,
        });
      good.write(request(1, encode("one")));
      await eventually(() => good.received.length === 1, 3000, "answer 1");

      const bad = client.stream("ConnectToDevice", t.relay.adminToken);
      bad.write(request(1, new Uint8Array(OVER_TRANSPORT_LIMIT)));
      const status = await bad.status(2000);
      assert.equal(status.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.match(status.details, /larger than max/);

      const badDevice = client.stream("DeviceConnect");
      badDevice.write(
        new Uint8Array(
          deviceConnect().requestSerialize({
            device_id: "lim-big",
            token: "x",
            register: {
              device_id: "lim-big",
              metadata: { filler: "x".repeat(OVER_TRANSPORT_LIMIT) },
            },
          }),
        ),
      );
      const deviceStatus = await badDevice.status(2000);
      assert.equal(deviceStatus.code, grpc.status.RESOURCE_EXHAUSTED);

      // The other stream on the same HTTP/2 connection is unaffected.
      good.write(request(2, encode("two")));
      await eventually(() => good.received.length === 2, 3000, "answer 2");
      const second = deviceResponseOf(good.received[1]!);
      assert.equal(second.error, "OK");
      assert.equal(decode(second.encrypted_payload), "two");
      good.end();
      assert.equal((await good.status()).code, grpc.status.OK);
    } finally {
      client.close();
    }
    await assertStillServes(t);
  },
);

hostileTest(
  "limits: a QUIC frame announcing more than the limit closes only its stream",
  { config: SMALL, transports: ["quic"] },
  async (t) => {
    await t.device("lim-dev");
    const raw = await rawQuic(t);
    try {
      const good = await raw.stream(
        openFrame("CONNECT_TO_DEVICE", t.relay.adminToken),
      );
      const ask = async (sequence: number, text: string) => {
        await good.writer.write(encodeFrame(quicCodecs.controllerMessage.encode(
          {
            target_device_id: "lim-dev",
            method_name: "echo",
            sequence_number: sequence,
            encrypted_payload: encode(text),
            timeout_ms: 3000,
          },
        )));
        const frame = await withDeadline(good.frames.next(), 3000, text);
        const response = quicCodecs.controllerFrame.decode(frame!).response;
        assert.equal(response?.error, "OK");
        assert.equal(decode(response!.encrypted_payload), text);
      };
      await ask(1, "one");

      const badController = await raw.stream(
        openFrame("CONNECT_TO_DEVICE", t.relay.adminToken),
        frameHeader(HUGE_FRAME),
      );
      const controllerOutcome = await readToEnd(badController.frames);
      assert.equal(controllerError(controllerOutcome)?.code, "INVALID_REQUEST");
      assert.match(
        controllerError(controllerOutcome)?.message ?? "",
        /exceeds/,
      );

      const badDevice = await raw.stream(
        openFrame("DEVICE_CONNECT"),
        frameHeader(HUGE_FRAME),
      );
      const deviceOutcome = await readToEnd(badDevice.frames);
      assert.equal(deviceError(deviceOutcome)?.code, "INVALID_REQUEST");
      assert.match(deviceError(deviceOutcome)?.message ?? "", /exceeds/);

      // An oversized header in place of the StreamOpen frame.
      const badOpen = await raw.stream(frameHeader(HUGE_FRAME));
      assert.deepEqual((await readToEnd(badOpen.frames)).frames, []);

      // The other stream on the same QUIC connection is unaffected.
      await ask(2, "two");
    } finally {
      raw.close();
    }
    await assertStillServes(t);
  },
);
