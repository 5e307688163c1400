import assert from "node:assert/strict";
import { contractTest, encode, startTestRelay } from "./harness.ts";

contractTest(
  "/health reports components and /metrics real values",
  {},
  async (t) => {
    await t.device("obs-1");
    const controller = t.controller();
    await controller.call("obs-1", "echo", encode("x"));
    await controller.openSession("missing").request("echo", encode("x"));
    const base = `http://127.0.0.1:${t.relay.healthPort}`;

    const health = await (await fetch(`${base}/health`)).json();
    assert.equal(health.status, "healthy");
    assert.equal(health.components.grpc_server.status, "healthy");
    assert.equal(health.metrics.devices_connected, 1);

    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.ok(
      metrics.includes(
        `relay_devices{state="online",transport="${t.transport}"} 1`,
      ),
    );
    assert.match(metrics, /relay_requests_total\{code="OK"\} 1/);
    assert.match(metrics, /relay_requests_total\{code="DEVICE_NOT_FOUND"\} 1/);
    assert.match(
      metrics,
      /relay_request_duration_seconds_count\{code="OK"\} 1/,
    );
    assert.match(metrics, /relay_active_streams\{kind="device"\} 1/);
    assert.match(metrics, /relay_device_registrations_total\{result="new"\} 1/);
    // The relay's own memory, as a bench or dashboard reads it.
    const rss = Number(
      /relay_process_memory_bytes\{area="rss"\} (\d+)/.exec(metrics)?.[1],
    );
    assert.ok(rss > 10 * 2 ** 20, `rss ${rss}`);
    assert.match(metrics, /relay_process_memory_bytes\{area="heap_used"\} \d+/);
    // The event-loop lag probe wakes every 100 ms from the relay's start.
    const lagWakeUps = async () =>
      Number(
        /relay_event_loop_lag_seconds_count (\d+)/.exec(
          await (await fetch(`${base}/metrics`)).text(),
        )?.[1] ?? 0,
      );
    const deadline = Date.now() + 2_000;
    while (await lagWakeUps() < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(await lagWakeUps() >= 2, "event loop lag observations");

    const notFound = await fetch(`${base}/nope`);
    assert.equal(notFound.status, 404);
    await notFound.body?.cancel();
  },
);

contractTest("logs never contain payloads or credentials", {}, async (t) => {
  const credential = t.registerDevice("log-1");
  await t.device("log-1", { token: credential });
  const canary = "CANARY-PAYLOAD-7f3a";
  await t.controller().call("log-1", "echo", encode(canary));
  const logs = t.logLines.join("\n");
  assert.ok(logs.includes("device registered"), "logs were captured");
  assert.ok(!logs.includes(canary), "payload leaked into logs");
  assert.ok(!logs.includes(credential), "device credential leaked into logs");
  assert.ok(
    !logs.includes(t.relay.adminToken),
    "controller token leaked into logs",
  );
});

Deno.test("when QUIC cannot bind, the relay serves HTTP/2 and /health says degraded", async () => {
  const taken = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const port = (taken.addr as Deno.NetAddr).port;
  const t = await startTestRelay({
    config: { "relay.quic_address": `127.0.0.1:${port}` },
  });
  try {
    assert.equal(t.relay.quicAddress, "");
    await t.device("h2-only"); // the harness default transport is h2
    const reply = await t.controller().call(
      "h2-only",
      "echo",
      encode("over h2"),
    );
    assert.equal(new TextDecoder().decode(reply), "over h2");
    const health =
      await (await fetch(`http://127.0.0.1:${t.relay.healthPort}/health`))
        .json();
    assert.equal(health.status, "degraded");
    assert.equal(health.components.quic_listener.status, "degraded");
    assert.match(
      health.components.quic_listener.message,
      /relay\.quic_address/,
    );
    const metrics =
      await (await fetch(`http://127.0.0.1:${t.relay.healthPort}/metrics`))
        .text();
    assert.match(metrics, /relay_quic_listener_up 0/);
    assert.ok(
      t.logLines.some((line) =>
        line.includes("QUIC is off, serving HTTP/2 only")
      ),
    );
  } finally {
    await t.close();
    taken.close();
  }
});
