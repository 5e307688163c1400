// One controller call makes one trace across three processes with Deno's
// OpenTelemetry on: `relay ctl call` (the SDK's span), `relay serve` (the
// relay's routing span) and `relay device --echo` (the handler's span), over
// each device transport, exported over OTLP/HTTP to a receiver this test runs.
import assert from "node:assert/strict";
import { run, spawn, watch } from "../cli_processes.ts";
import { OtlpReceiver, type ReceivedSpan } from "./otlp_receiver.ts";

const SERVER = 2; // OTLP span kinds
const CLIENT = 3;
const PAYLOAD = "secret payload 7f3a";

Deno.test("one call, one trace: controller, relay and device spans linked over h2 and QUIC", async () => {
  const receiver = new OtlpReceiver();
  const stateDir = await Deno.makeTempDir({ prefix: "relay-traces-" });
  const children: Deno.ChildProcess[] = [];
  try {
    const relay = spawn([
      "serve",
      "--state-dir",
      stateDir,
      "--address",
      "127.0.0.1:0",
      "--quic-address",
      "127.0.0.1:0",
      "--health-address",
      "127.0.0.1:0",
    ], receiver.env("relay"));
    children.push(relay);
    const relayErr = watch(relay.stderr);
    watch(relay.stdout);
    const [, port] = await relayErr.waitFor(
      /listening on 127\.0\.0\.1:(\d+) \(TLS\)/,
    );
    const [, quicPort] = await relayErr.waitFor(
      /QUIC \(UDP\) on 127\.0\.0\.1:(\d+)/,
    );
    const common = [
      "--state-dir",
      stateDir,
      "--relay",
      `localhost:${port}`,
      "--quic-relay",
      `localhost:${quicPort}`,
    ];
    const devices = { h2: "trace-dev-h2", quic: "trace-dev-quic" };
    const deviceExits: Promise<void>[] = [];
    for (const [transport, id] of Object.entries(devices)) {
      const token = await run([
        "token",
        "device",
        "--id",
        id,
        "--state-dir",
        stateDir,
      ]);
      assert.equal(token.code, 0, token.stderr);
      const device = spawn([
        "device",
        "--id",
        id,
        "--token",
        token.stdout.trim(),
        "--echo",
        "--transport",
        transport,
        "--e2e-key",
        `${stateDir}/${id}.e2e.json`,
        ...common,
      ], receiver.env(`device-${transport}`));
      children.push(device);
      const deviceErr = watch(device.stderr);
      watch(device.stdout);
      await deviceErr.waitFor(new RegExp(`${id}: connected via ${transport}`));
      deviceExits.push(deviceErr.done);
    }
    for (const id of Object.values(devices)) {
      const call = await run([
        "ctl",
        "call",
        id,
        "echo",
        "--data",
        PAYLOAD,
        "--known-devices",
        `${stateDir}/known_devices`,
        ...common,
      ], receiver.env("ctl"));
      assert.equal(call.code, 0, call.stderr);
      assert.equal(call.stdout, PAYLOAD);
    }
    // Each process exports what it has left when it ends.
    for (const child of children.reverse()) {
      child.kill("SIGTERM");
      assert.equal((await child.status).code, 0);
    }
    await Promise.all(deviceExits);
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
          span.attributes["relay.device_id"] === id,
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
  } finally {
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch { /* already ended */ }
    }
    await receiver.close();
    await Deno.remove(stateDir, { recursive: true });
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
