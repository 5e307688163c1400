// One controller call makes one trace across processes with Deno's
// OpenTelemetry on, exported over OTLP/HTTP to a receiver this test runs:
// `relay ctl call` (the SDK's span), `relay serve` (the relay's span) and
// `relay device` (the handler's span), over each device transport; and a
// transparent call from a plain gRPC client whose traceparent the relay
// continues.
import assert from "node:assert/strict";
import { run } from "../cli_processes.ts";
import { OtlpReceiver, type ReceivedSpan } from "./otlp_receiver.ts";
import { startTracedFleet } from "./traced_fleet.ts";

const SERVER = 2; // OTLP span kinds
const CLIENT = 3;
const PAYLOAD = "secret payload 7f3a";

Deno.test("one call, one trace: controller, relay and device spans linked over h2 and QUIC", async () => {
  const receiver = new OtlpReceiver();
  const fleet = await startTracedFleet(receiver);
  try {
    const devices = { h2: "trace-dev-h2", quic: "trace-dev-quic" };
    for (const [transport, id] of Object.entries(devices)) {
      await fleet.startDevice(id, transport, ["--echo"]);
    }
    const ctl = (...args: string[]) =>
      run([
        "ctl",
        ...args,
        "--known-devices",
        `${fleet.stateDir}/known_devices`,
        "--e2e-key",
        `${fleet.stateDir}/ctl.e2e.json`,
        ...fleet.common,
      ], receiver.env("ctl"));
    for (const id of Object.values(devices)) {
      const call = await ctl("call", id, "echo", "--data", PAYLOAD);
      assert.equal(call.code, 0, call.stderr);
      assert.equal(call.stdout, PAYLOAD);
    }
    // A refusal inside the relay's span: its audit line names the trace.
    const viewer = await run([
      "token",
      "controller",
      "--id",
      "trace-viewer",
      "--role",
      "viewer",
      "--project",
      "default",
      "--state-dir",
      fleet.stateDir,
    ]);
    const denied = await ctl(
      "call",
      devices.h2,
      "echo",
      "--token",
      viewer.stdout.trim(),
    );
    assert.match(denied.stderr, /PERMISSION_DENIED/);
    await fleet.stop();

    // Deno's own spans of session streams (node:http2, both ends) end when
    // the stream opens, not when the session does: the h2 device's ended
    // before it was called.
    const h2Route = receiver.spans.find((span) =>
      span.name === "relay.route" &&
      span.attributes["relay.device_id"] === devices.h2
    );
    const sessionStreams = receiver.spans.filter((span) =>
      String(span.attributes["url.path"]).endsWith("/DeviceConnect")
    );
    assert.deepEqual(
      sessionStreams.map((span) => span.service).sort(),
      ["device-h2", "relay"],
    );
    for (const span of sessionStreams) {
      assert.ok(h2Route && span.endNs < h2Route.startNs, span.service);
    }
    for (
      const span of receiver.spans.filter((span) =>
        /\/(DeviceConnect|ConnectToDevice)$/.test(
          String(span.attributes["url.path"]),
        )
      )
    ) {
      assert.match(String(span.attributes["relay.stream"]), /long-lived/);
    }

    for (const [transport, id] of Object.entries(devices)) {
      const call = only(
        receiver.spans,
        (span) =>
          span.name === "relay.controller.call" &&
          span.attributes["relay.device_id"] === id &&
          span.status !== 2,
      );
      assert.equal(call.service, "ctl");
      assert.equal(call.kind, CLIENT);
      assert.equal(call.parentSpanId, "");
      assert.equal(call.attributes["relay.result_code"], "OK");

      const route = only(
        receiver.spans,
        (span) => span.name === "relay.route" && span.traceId === call.traceId,
      );
      assert.equal(route.service, "relay");
      assert.equal(route.kind, SERVER);
      assert.equal(route.parentSpanId, call.spanId, "relay span's parent");
      assert.equal(route.attributes["relay.device_id"], id);
      assert.equal(route.attributes["rpc.method"], "echo");
      assert.equal(route.attributes["relay.device_transport"], transport);
      assert.equal(route.attributes["relay.result_code"], "OK");
      assert.ok(typeof route.attributes["relay.idempotency"] === "string");
      assert.deepEqual(route.events, ["authorized", "device answered"]);

      const handle = only(
        receiver.spans,
        (span) =>
          span.name === "relay.device.handle" && span.traceId === call.traceId,
      );
      assert.equal(handle.service, `device-${transport}`);
      assert.equal(handle.parentSpanId, route.spanId, "device span's parent");
      assert.equal(handle.attributes["relay.result_code"], "OK");
      // Nested in time as in the call graph.
      assert.ok(call.startNs <= route.startNs && route.endNs <= call.endNs);
      assert.ok(route.startNs <= handle.startNs && handle.endNs <= route.endNs);
    }
    // Metadata only: no payload and no credential in any attribute.
    const values = receiver.spans.flatMap((span) =>
      Object.values(span.attributes).map(String)
    );
    assert.ok(values.every((value) => !value.includes(PAYLOAD)));
    assert.ok(values.every((value) => !/rd[ct]_|eyJ/.test(value)));

    const refused = only(
      receiver.spans,
      (span) =>
        span.name === "relay.route" &&
        span.attributes["relay.result_code"] === "PERMISSION_DENIED",
    );
    assert.equal(refused.status, 2, "an error status");
    const audit = (await Deno.readTextFile(`${fleet.stateDir}/audit.log`))
      .trim().split("\n").map((line) => JSON.parse(line));
    const denial = audit.find((line) => line.event === "access_denied");
    assert.equal(denial?.trace_id, refused.traceId);
  } finally {
    await fleet.cleanup();
    await receiver.close();
  }
});

function only(
  spans: ReceivedSpan[],
  predicate: (span: ReceivedSpan) => boolean,
): ReceivedSpan {
  const found = spans.filter(predicate);
  assert.equal(
    found.length,
    1,
    `expected one span, found ${found.length} of ${spans.length}: ${
      JSON.stringify(spans.map((s) => [s.service, s.name, s.traceId]))
    }`,
  );
  return found[0]!;
}
