// CallMany: one unary call of the devices' own service on 50 devices at
// once, through the SDK (controllerClient.callMany, over HTTP/2 whatever the
// device transport). Exactly one result per
// device, streamed as each completes: OK from the fast ones, UNAVAILABLE for
// offline devices and a target that refuses connections, UNIMPLEMENTED for
// devices without a gRPC target, NOT_FOUND for an unknown id, and
// DEADLINE_EXCEEDED, last, for the one slower than the per-device timeout.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { grpcTarget } from "../../mod.ts";
import { eventually } from "../harness.ts";
import { grpc } from "./relay_grpc_client.ts";
import { JsTestServer } from "./js_test_server.ts";
import { type EchoReply, methodPath, testService } from "./testsvc_proto.ts";
import { rigTest } from "./transparent_rig.ts";

const PER_DEVICE_TIMEOUT_MS = 1500;
const FAST = 40;
const OFFLINE = 4;
const PLAIN = 2;
const REFUSING = 2;
const UNKNOWN = ["unknown-1"];
const SLOW = "slow-1";

const ids = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${prefix}-${i + 1}`);

function echoRequest(text: string): Uint8Array {
  return new Uint8Array(testService().Unary!.requestSerialize({ text }));
}

function echoText(bytes: Uint8Array): string {
  const reply = testService().Unary!.responseDeserialize(
    Buffer.from(bytes),
  ) as EchoReply;
  return reply.text;
}

function closedPort(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return `127.0.0.1:${port}`;
}

rigTest(
  "CallMany over 50 devices: one result each, the right codes, streamed as they complete (the slow one last)",
  { server: () => JsTestServer.start() },
  async ({ t, deviceId, addDevice }) => {
    const slowServer = await JsTestServer.start({ unaryDelayMs: 30_000 });
    try {
      const fast = [deviceId, ...ids("fast", FAST - 1)];
      const offline = ids("offline", OFFLINE);
      const plain = ids("plain", PLAIN);
      const refusing = ids("refusing", REFUSING);
      const refusedAt = closedPort();
      await Promise.all([
        ...fast.slice(1).map((id) => addDevice(id)),
        addDevice(SLOW, slowServer),
        ...plain.map((id) => addDevice(id, null)),
        ...refusing.map((id) => addDevice(id, { address: refusedAt })),
      ]);
      for (const id of offline) t.registerDevice(id);
      const expected = new Map<string, number>([
        ...fast.map((id) => [id, grpc.status.OK] as const),
        [SLOW, grpc.status.DEADLINE_EXCEEDED],
        ...offline.map((id) => [id, grpc.status.UNAVAILABLE] as const),
        ...plain.map((id) => [id, grpc.status.UNIMPLEMENTED] as const),
        ...refusing.map((id) => [id, grpc.status.UNAVAILABLE] as const),
        ...UNKNOWN.map((id) => [id, grpc.status.NOT_FOUND] as const),
      ]);
      assert.equal(expected.size, 50);

      const started = performance.now();
      const arrivals: { deviceId: string; at: number }[] = [];
      const results = new Map<
        string,
        {
          code: number;
          message: string;
          response: Uint8Array;
          durationMs: number;
        }
      >();
      for await (
        const result of t.controller(undefined, { transport: "h2" }).callMany({
          method: methodPath("Unary"),
          request: echoRequest("fan-out"),
          deviceIds: [...expected.keys()],
          perDeviceTimeoutMs: PER_DEVICE_TIMEOUT_MS,
          maxConcurrency: 64,
        })
      ) {
        arrivals.push({
          deviceId: result.deviceId,
          at: performance.now() - started,
        });
        assert.ok(
          !results.has(result.deviceId),
          `a second result for ${result.deviceId}`,
        );
        results.set(result.deviceId, result);
      }

      assert.deepEqual([...results.keys()].sort(), [...expected.keys()].sort());
      for (const [id, code] of expected) {
        const result = results.get(id)!;
        assert.equal(result.code, code, `${id}: ${result.message}`);
        if (code === grpc.status.OK) {
          assert.equal(echoText(result.response), "fan-out");
        } else {
          assert.equal(result.response.byteLength, 0, id);
        }
      }
      const slow = results.get(SLOW)!;
      assert.ok(
        slow.durationMs >= PER_DEVICE_TIMEOUT_MS - 50 &&
          slow.durationMs < PER_DEVICE_TIMEOUT_MS + 1500,
        `the slow device's call took ${slow.durationMs} ms`,
      );
      // Streamed, not gathered: the slow one comes last, and the first
      // result long before the slow one's deadline.
      assert.equal(arrivals.at(-1)!.deviceId, SLOW);
      assert.ok(
        arrivals[0]!.at < PER_DEVICE_TIMEOUT_MS / 2,
        `the first result came after ${arrivals[0]!.at.toFixed(0)} ms`,
      );
      // The per-device deadline reached the slow device's handler.
      await eventually(
        () => slowServer.counts.cancelled === 1,
        2000,
        "the slow handler to be cancelled",
      );
    } finally {
      await slowServer.close();
    }
  },
);

rigTest(
  "CallMany by label selector: the named devices plus the online devices with every label",
  { server: () => JsTestServer.start() },
  async ({ t, server }) => {
    const target = () => grpcTarget({ address: server.address });
    const agent = (id: string, fleet: string) =>
      t.device(id, {
        echo: false,
        grpcTarget: target(),
        metadata: { fleet, zone: "z1" },
      });
    await Promise.all([
      agent("blue-1", "blue"),
      agent("blue-2", "blue"),
      agent("red-1", "red"),
      agent("red-2", "red"),
    ]);
    const called: string[] = [];
    for await (
      const result of t.controller(undefined, { transport: "h2" }).callMany({
        method: methodPath("Unary"),
        request: echoRequest("by label"),
        deviceIds: ["red-1"],
        labels: { fleet: "blue", zone: "z1" },
      })
    ) {
      assert.equal(result.code, grpc.status.OK, result.message);
      assert.equal(echoText(result.response), "by label");
      called.push(result.deviceId);
    }
    assert.deepEqual(called.sort(), ["blue-1", "blue-2", "red-1"]);
  },
);
