// Metric label values come from closed sets, whatever peers send: a series
// per distinct value would grow the relay's memory without bound.
import assert from "node:assert/strict";
import type { ErrorCode } from "../src/errors/relay_error.ts";
import { contractTest, encode } from "./harness.ts";
import { nextDataRequest, rawDevice } from "./raw_device.ts";

contractTest(
  "error codes a device invents share one label on the request metrics",
  {},
  async (t) => {
    const deviceId = "labels-1";
    const device = await rawDevice(t, deviceId, t.registerDevice(deviceId));
    const session = t.controller(undefined, { e2e: false }).openSession(
      deviceId,
    );
    const invented = [4242, 4243];
    for (const code of invented) {
      const answered = session.request("echo", encode("x"));
      const request = await nextDataRequest(device);
      await device.stream.send({
        device_id: deviceId,
        data: {
          connection_id: request.connection_id,
          sequence_number: request.sequence_number,
          encrypted_payload: new Uint8Array(0),
          // A code of a newer proto, a number on the wire.
          error: code as unknown as ErrorCode,
          error_message: "from a newer device",
        },
      });
      assert.notEqual((await answered).error, "OK");
    }
    const metrics = await (await fetch(
      `http://127.0.0.1:${t.relay.healthPort}/metrics`,
    )).text();
    assert.match(metrics, /relay_requests_total\{code="UNKNOWN"\} 2/);
    assert.match(
      metrics,
      /relay_request_duration_seconds_count\{code="UNKNOWN"\} 2/,
    );
    for (const code of invented) {
      assert.ok(!metrics.includes(`"${code}"`), `a series for code ${code}`);
    }
    await session.close();
    device.drop();
  },
);
