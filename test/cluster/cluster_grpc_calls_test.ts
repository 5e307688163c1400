// Transparent gRPC calls and CallMany across the relays of a cluster: an
// ordinary gRPC client of relay A calls a device relay B holds (over both
// device transports), and relay A makes the call again on relay B's gRPC
// port. The four call kinds, metadata, headers, trailers and statuses pass
// unchanged; a deadline shorter than the handler gives DEADLINE_EXCEEDED and
// a client's cancel reaches the device's handler; an unknown device is
// NOT_FOUND as on one relay; a call that already made the hop is never
// forwarded again. CallMany on relay A reaches the devices of both relays,
// by ids and by labels, one result each. A Python grpcio client does the
// same through relay A. The hop's added latency is printed.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { fileURLToPath } from "node:url";
import { grpcTarget } from "../../mod.ts";
import type { ClusterState } from "../../src/cluster/cluster_state.ts";
import { parseHostPort } from "../../src/config/host_port.ts";
import {
  eventually,
  type TestRelay,
  type TestTransport,
  TRANSPORTS,
} from "../harness.ts";
import { NATS_SERVER, PYTHON_GRPC, SystemTools } from "../system_tools.ts";
import { JsTestServer } from "../transparent/js_test_server.ts";
import { PyTestServer } from "../transparent/py_server_process.ts";
import {
  type CallTarget,
  grpc,
  relayGrpcClient,
} from "../transparent/relay_grpc_client.ts";
import { assertMetadataPassthrough } from "../transparent/metadata_passthrough.ts";
import { testsvc } from "../transparent/testsvc_client.ts";
import {
  type EchoReply,
  methodPath,
  testService,
} from "../transparent/testsvc_proto.ts";
import { operatorToken, withRelays } from "./cluster_fixture.ts";

const nats = await SystemTools.check(NATS_SERVER);
const natsAndPython = await SystemTools.check(NATS_SERVER, PYTHON_GRPC);
const OK = grpc.status.OK;
const PROPAGATION_MS = 1000;
/** From the client's cancel (or deadline) to the device handler seeing it. */
const HANDLER_BOUND_MS = 2000;
const DEADLINE_MS = 300;
const DEADLINE_SLACK_MS = 700;
const PY_CLIENT = fileURLToPath(
  new URL("../transparent/py_test_client.py", import.meta.url),
);

/** Starts a device on `relay` whose gRPC target is `server`. */
async function grpcDevice(
  relay: TestRelay,
  state: ClusterState,
  deviceId: string,
  server: { address: string },
  metadata: Record<string, string> = {},
): Promise<void> {
  const token = await state.registerDevice(deviceId, "default");
  await relay.device(deviceId, {
    token,
    echo: false,
    grpcTarget: grpcTarget({ address: server.address }),
    metadata,
  });
}

/** Waits until `relay` lists every device of `ids`. */
async function listed(relay: TestRelay, ids: string[]): Promise<void> {
  await eventually(
    async () => {
      const devices = await relay.controller().listDevices();
      return ids.every((id) => devices.some((d) => d.device_id === id));
    },
    PROPAGATION_MS,
    `${relay.relay.grpcAddress} to list ${ids.join(", ")}`,
  );
}

/** A grpc-js client of a relay's gRPC port, closed after `body`. */
async function withClient<T>(
  relay: TestRelay,
  body: (client: grpc.Client) => Promise<T>,
): Promise<T> {
  const client = relayGrpcClient(relay.relay.grpcAddress, relay.relay.caPem);
  try {
    return await body(client);
  } finally {
    client.close();
  }
}

for (const transport of TRANSPORTS) {
  natsAndPython.test(`cluster calls: a client of relay A calls a device relay B holds: four kinds, metadata, trailers, statuses, deadline, cancel, unknown device [${transport}]`, async () => {
    const server = await PyTestServer.start(natsAndPython.path("python"));
    try {
      await withRelays(async ([a, b], state) => {
        await grpcDevice(b!, state, "far-grpc", server);
        await listed(a!, ["far-grpc"]);
        await withClient(a!, async (client) => {
          const svc = testsvc(client);
          const target = (overrides: Partial<CallTarget> = {}) => ({
            deviceId: "far-grpc",
            token: a!.relay.adminToken,
            ...overrides,
          });
          await fourKinds(svc, target);
          await metadataAndStatus(svc, target);

          // A deadline shorter than the handler, across the hop.
          const late = `deadline-${crypto.randomUUID()}`;
          const { status, elapsedMs } = await svc.block(
            target({ timeoutMs: DEADLINE_MS }),
            { tag: late },
          ).result;
          assert.equal(status.code, grpc.status.DEADLINE_EXCEEDED);
          assert.ok(
            elapsedMs < DEADLINE_MS + DEADLINE_SLACK_MS,
            `DEADLINE_EXCEEDED after ${elapsedMs.toFixed(0)} ms`,
          );
          await eventually(
            () => server.saw("cancelled", late),
            HANDLER_BOUND_MS,
            "the handler to see the deadline",
          );

          // The client's cancel reaches the device's handler through both relays.
          const tag = `cancel-${crypto.randomUUID()}`;
          const call = svc.block(target(), { tag });
          await eventually(
            () => server.saw("started", tag),
            HANDLER_BOUND_MS,
            "the handler to start",
          );
          call.cancel();
          assert.equal((await call.result).status.code, grpc.status.CANCELLED);
          await eventually(
            () => server.saw("cancelled", tag),
            HANDLER_BOUND_MS,
            "the handler to see the cancellation",
          );
          assert.equal(server.saw("finished", tag), false);

          // Unknown and invisible devices: NOT_FOUND, as on one relay.
          const unknown = await svc.unary(target({ deviceId: "no-such-dev" }), {
            text: "x",
          }).result;
          assert.equal(unknown.status.code, grpc.status.NOT_FOUND);
          const hidden = await svc.unary(
            target({ token: await operatorToken(["elsewhere"]) }),
            { text: "x" },
          ).result;
          assert.equal(hidden.status.code, grpc.status.NOT_FOUND);
          // A call that says it made the hop already is not forwarded again:
          // relay A does not hold the device, so it is offline there.
          const hopped = await svc.unary(
            target({ metadata: { "relay-forwarded": "relay-x" } }),
            { text: "x" },
          ).result;
          assert.equal(hopped.status.code, grpc.status.UNAVAILABLE);
          assert.match(hopped.status.details, /offline/);
          // A registered device no relay holds: offline, as on one relay.
          await state.registerDevice("nowhere-grpc", "default");
          const nowhere = await svc.unary(
            target({ deviceId: "nowhere-grpc" }),
            { text: "x" },
          ).result;
          assert.equal(nowhere.status.code, grpc.status.UNAVAILABLE);
        });
      }, transport);
    } finally {
      await server.close();
    }
  });
}

type Svc = ReturnType<typeof testsvc>;
type Target = (overrides?: Partial<CallTarget>) => CallTarget;

async function fourKinds(svc: Svc, target: Target): Promise<void> {
  const unary = await svc.unary(target(), {
    text: "hello",
    payload: new Uint8Array([0, 1, 2, 255]),
  }).result;
  assert.equal(unary.status.code, OK, unary.status.details);
  assert.equal(unary.messages[0]!.text, "hello");
  assert.deepEqual([...unary.messages[0]!.payload], [0, 1, 2, 255]);

  const stream = await svc.serverStream(target(), { text: "s", count: 5 })
    .result;
  assert.equal(stream.status.code, OK, stream.status.details);
  assert.deepEqual(
    stream.messages.map((m) => m.text),
    ["s-0", "s-1", "s-2", "s-3", "s-4"],
  );

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

  // Each echo comes back before the next request is written: the call
  // streams both ways across the hop.
  const bidi = svc.bidi(target());
  for (let i = 0; i < 5; i++) {
    bidi.write({ text: `m${i}` });
    await bidi.received(i + 1);
  }
  bidi.end();
  const echoed = await bidi.result;
  assert.equal(echoed.status.code, OK, echoed.status.details);
  assert.deepEqual(
    echoed.messages.map((m) => m.text),
    ["m0", "m1", "m2", "m3", "m4"],
  );
}

async function metadataAndStatus(svc: Svc, target: Target): Promise<void> {
  await assertMetadataPassthrough(svc, target);

  const detail = new Uint8Array([9, 0, 8, 255]);
  const message = "device says no: ünïcode % 100%";
  const failed = await svc.fail(target(), {
    code: grpc.status.FAILED_PRECONDITION,
    message,
    trailers: [
      { key: "x-reason", value: "far" },
      { key: "x-detail-bin", bin_value: detail },
    ],
  }).result;
  assert.equal(failed.status.code, grpc.status.FAILED_PRECONDITION);
  assert.equal(failed.status.details, message);
  assert.deepEqual(failed.status.metadata.get("x-reason"), ["far"]);
  assert.deepEqual([
    ...failed.status.metadata.get("x-detail-bin")[0] as Uint8Array,
  ], [
    ...detail,
  ]);
}

function echoRequest(text: string, payloadBytes = 0): Uint8Array {
  return new Uint8Array(
    testService().Unary!.requestSerialize({
      text,
      payload: new Uint8Array(payloadBytes),
    }),
  );
}

function echoText(bytes: Uint8Array): string {
  return (testService().Unary!.responseDeserialize(
    Buffer.from(bytes),
  ) as EchoReply).text;
}

for (const transport of TRANSPORTS) {
  nats.test(`cluster calls: CallMany on relay A reaches the devices of both relays, by ids and by labels, one result each [${transport}]`, async () => {
    const server = await JsTestServer.start();
    const slowServer = await JsTestServer.start({ unaryDelayMs: 30_000 });
    try {
      await withRelays(async ([a, b], state) => {
        await Promise.all([
          grpcDevice(a!, state, "near-blue", server, { fleet: "blue" }),
          grpcDevice(a!, state, "near-red", server, { fleet: "red" }),
          grpcDevice(b!, state, "far-blue", server, { fleet: "blue" }),
          grpcDevice(b!, state, "far-red", server, { fleet: "red" }),
          grpcDevice(b!, state, "far-slow", slowServer, { fleet: "slow" }),
        ]);
        await listed(a!, ["far-blue", "far-red", "far-slow"]);
        const callMany = async (
          selection: { deviceIds?: string[]; labels?: Record<string, string> },
        ) => {
          const results = new Map<string, { code: number; text: string }>();
          for await (
            const result of a!.controller(undefined, { transport: "h2" })
              .callMany({
                method: methodPath("Unary"),
                request: echoRequest("fan-out"),
                perDeviceTimeoutMs: 1000,
                ...selection,
              })
          ) {
            assert.ok(!results.has(result.deviceId), result.deviceId);
            results.set(result.deviceId, {
              code: result.code,
              text: result.code === OK ? echoText(result.response) : "",
            });
          }
          return results;
        };

        const byIds = await callMany({
          deviceIds: [
            "near-blue",
            "near-red",
            "far-blue",
            "far-red",
            "far-slow",
            "unknown-1",
          ],
        });
        assert.deepEqual(Object.fromEntries(byIds), {
          "near-blue": { code: OK, text: "fan-out" },
          "near-red": { code: OK, text: "fan-out" },
          "far-blue": { code: OK, text: "fan-out" },
          "far-red": { code: OK, text: "fan-out" },
          "far-slow": { code: grpc.status.DEADLINE_EXCEEDED, text: "" },
          "unknown-1": { code: grpc.status.NOT_FOUND, text: "" },
        });
        // The per-device deadline reached the handler behind relay B.
        await eventually(
          () => slowServer.counts.cancelled === 1,
          HANDLER_BOUND_MS,
          "the slow handler to be cancelled",
        );

        const blue = await callMany({ labels: { fleet: "blue" } });
        assert.deepEqual([...blue.keys()].sort(), ["far-blue", "near-blue"]);
        assert.ok([...blue.values()].every((r) => r.code === OK));

        if (transport === "h2") await hopLatency(a!, b!);
      }, transport);
    } finally {
      await slowServer.close();
      await server.close();
    }
  });
}

/** Prints unary p50/p99 to far-blue through relay A (the hop) and relay B. */
async function hopLatency(a: TestRelay, b: TestRelay): Promise<void> {
  const ROUNDS = 300;
  const measure = (relay: TestRelay) =>
    withClient(relay, async (client) => {
      const unary = testsvc(client).unary;
      const target = { deviceId: "far-blue", token: relay.relay.adminToken };
      const request = { text: "t", payload: new Uint8Array(1024) };
      for (let i = 0; i < 30; i++) await unary(target, request).result;
      const times: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const { status, elapsedMs } = await unary(target, request).result;
        assert.equal(status.code, OK, status.details);
        times.push(elapsedMs);
      }
      times.sort((x, y) => x - y);
      return {
        p50: times[Math.floor(ROUNDS / 2)]!,
        p99: times[Math.floor(ROUNDS * 0.99)]!,
      };
    });
  const direct = await measure(b);
  const hop = await measure(a);
  console.log(
    `unary 1 KiB to a device on relay B, ${ROUNDS} calls: through relay B p50 ${
      direct.p50.toFixed(2)
    } ms p99 ${direct.p99.toFixed(2)} ms; through relay A p50 ${
      hop.p50.toFixed(2)
    } ms p99 ${hop.p99.toFixed(2)} ms; the hop adds p50 ${
      (hop.p50 - direct.p50).toFixed(2)
    } ms`,
  );
}

natsAndPython.test("cluster calls: a Python grpcio client of relay A calls a device relay B holds (unary, bidi, status error)", async () => {
  const server = await PyTestServer.start(natsAndPython.path("python"));
  try {
    await withRelays(async ([a, b], state) => {
      await grpcDevice(b!, state, "far-py", server);
      await listed(a!, ["far-py"]);
      // The dev certificate names "localhost"; grpcio checks it by that name.
      const { port } = parseHostPort(a!.relay.grpcAddress);
      const { code, stdout, stderr } = await new Deno.Command(
        natsAndPython.path("python"),
        {
          args: [
            PY_CLIENT,
            `localhost:${port}`,
            a!.relay.paths.caCert,
            a!.relay.paths.adminToken,
            "far-py",
          ],
          stdout: "piped",
          stderr: "piped",
          signal: AbortSignal.timeout(60_000),
        },
      ).output();
      const output = new TextDecoder().decode(stdout);
      assert.equal(
        code,
        0,
        `py_test_client.py exited ${code}\n${output}\n${
          new TextDecoder().decode(stderr)
        }`,
      );
      assert.match(output, /^ok: Unary echoed$/m);
      assert.match(output, /^ok: bidi echoed 5 messages one by one$/m);
      assert.match(output, /^ok: Fail answered FAILED_PRECONDITION/m);
      assert.match(output, /^PASS$/m);
    }, "h2" satisfies TestTransport);
  } finally {
    await server.close();
  }
});
