// A transparent gRPC call from a plain grpc-js client (no OpenTelemetry in
// this process) that sends its own W3C traceparent: the relay's span
// continues that trace, the device agent's span is the relay's child, and
// Deno's HTTP/2 client span for the call to the device's own server is the
// agent's child; over each device transport.
import assert from "node:assert/strict";
import { relayGrpcClient } from "../transparent/relay_grpc_client.ts";
import { JsTestServer } from "../transparent/js_test_server.ts";
import { testsvc } from "../transparent/testsvc_client.ts";
import { OtlpReceiver, type ReceivedSpan } from "./otlp_receiver.ts";
import { startTracedFleet } from "./traced_fleet.ts";

const TRANSPORTS = ["h2", "quic"];

Deno.test("transparent calls: the caller's traceparent is honoured and carried to the device's server", async () => {
  const receiver = new OtlpReceiver();
  const server = await JsTestServer.start();
  const fleet = await startTracedFleet(receiver);
  const client = relayGrpcClient(
    `localhost:${fleet.port}`,
    await Deno.readTextFile(`${fleet.stateDir}/ca.pem`),
  );
  try {
    const token = (await Deno.readTextFile(`${fleet.stateDir}/admin.token`))
      .trim();
    const callers = new Map<string, { traceId: string; spanId: string }>();
    for (const transport of TRANSPORTS) {
      const id = `trace-grpc-${transport}`;
      await fleet.startDevice(id, transport, [
        "--grpc-target",
        server.address,
      ]);
      const caller = { traceId: randomHex(16), spanId: randomHex(8) };
      callers.set(transport, caller);
      const { status, messages } = await testsvc(client).unary({
        deviceId: id,
        token,
        metadata: {
          traceparent: `00-${caller.traceId}-${caller.spanId}-01`,
        },
      }, { text: "traced" }).result;
      assert.equal(status.code, 0, status.details);
      assert.equal(messages[0]?.text, "traced");
    }
    // Before the relay stops: its GOAWAY to a live grpc-js client can abort
    // this process (denoland/deno#36788).
    client.close();
    await fleet.stop();

    for (const transport of TRANSPORTS) {
      const caller = callers.get(transport)!;
      const inTrace = receiver.spans.filter((span) =>
        span.traceId === caller.traceId
      );
      const relay = only(inTrace, "relay.grpc_call");
      assert.equal(relay.service, "relay");
      assert.equal(relay.parentSpanId, caller.spanId, "the caller's span");
      assert.equal(
        relay.attributes["rpc.method"],
        "/testsvc.TestService/Unary",
      );
      assert.equal(relay.attributes["relay.device_transport"], transport);
      assert.equal(relay.attributes["relay.result_code"], "OK");
      const device = only(inTrace, "relay.device.grpc_call");
      assert.equal(device.service, `device-${transport}`);
      assert.equal(device.parentSpanId, relay.spanId, "the relay's span");
      const toServer = inTrace.find((span) =>
        span.service === `device-${transport}` &&
        span.attributes["url.path"] === "/testsvc.TestService/Unary"
      );
      assert.equal(toServer?.parentSpanId, device.spanId, "the agent's span");
    }
  } finally {
    client.close();
    await fleet.cleanup();
    await server.close();
    await receiver.close();
  }
});

function only(spans: ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.filter((span) => span.name === name);
  assert.equal(
    found.length,
    1,
    `one ${name} span in ${spans.map((span) => span.name).join(", ")}`,
  );
  return found[0]!;
}

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
}
