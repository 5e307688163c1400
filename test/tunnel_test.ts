// The tunnel primitive over both transports, independent of MQTT: a device
// opens a tunnel stream, authenticates in its `open` frame, and bytes flow
// in order both ways; refusals end with an `error` frame.
import assert from "node:assert/strict";
import { deviceConnector } from "../mod.ts";
import type { TunnelFrame } from "../src/sdk/connector.ts";
import type { TunnelHandler } from "../src/tunnel/tunnel_service.ts";
import { contractTest, type TestRelay } from "./harness.ts";

/** Echoes every byte back (the handler a test registers for MQTT tunnels). */
const echo: TunnelHandler = async (tunnel) => {
  await tunnel.readable.pipeTo(tunnel.writable, { signal: tunnel.signal });
};

/** Sends `frames` on a new tunnel; resolves with the relay's error code ("" if none). */
async function refusal(t: TestRelay, frames: TunnelFrame[]): Promise<string> {
  const connector = deviceConnector(t.clientOptions);
  const stream = connector.openTunnel!();
  try {
    for (const frame of frames) await stream.send(frame);
    for await (const frame of stream.messages) {
      if (frame.error) return frame.error.code;
    }
    return "";
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  } finally {
    stream.abort();
    connector.close();
  }
}

contractTest(
  "tunnel refusals: no open frame first, no kind, a kind not served, a bad credential",
  {
    config: {
      "relay.session.handshake_timeout_seconds": 0.3,
      // No broker: MQTT tunnels are not served.
      "relay.mqtt.enabled": false,
    },
  },
  async (t) => {
    const token = t.registerDevice("tun-1");
    const data = new Uint8Array([1, 2, 3]);
    assert.equal(await refusal(t, [{ data }]), "INVALID_REQUEST");
    assert.equal(
      await refusal(t, [{
        open: { device_id: "tun-1", token, kind: "TUNNEL_KIND_UNSPECIFIED" },
      }]),
      "INVALID_REQUEST",
    );
    // MQTT is off on this relay: MQTT tunnels are not served.
    assert.equal(
      await refusal(t, [{ open: { device_id: "tun-1", token, kind: "MQTT" } }]),
      "UNAVAILABLE",
    );
    assert.equal(
      await refusal(t, [{
        open: { device_id: "not an id!", token, kind: "MQTT" },
      }]),
      "INVALID_REQUEST",
    );
    assert.equal(
      await refusal(t, [{
        open: { device_id: "tun-1", token: "rdc_wrong", kind: "MQTT" },
      }]),
      "UNAUTHORIZED",
    );
    // Silence: the handshake timeout ends the stream.
    assert.equal(await refusal(t, []), "UNAUTHORIZED");
    assert.ok(
      t.logLines.some((line) =>
        line.includes("no tunnel open frame within the handshake timeout")
      ),
    );
  },
);

contractTest(
  "tunnel data flows in order both ways, with backpressure, and data after open only",
  {},
  async (t) => {
    t.relay.core.tunnels.register("MQTT", echo);
    const token = t.registerDevice("tun-2");
    const connector = deviceConnector(t.clientOptions);
    const stream = connector.openTunnel!();
    try {
      await stream.send({ open: { device_id: "tun-2", token, kind: "MQTT" } });
      // 8 MiB in 64 KiB frames, sent while the echo comes back.
      const total = 8 * 1024 * 1024;
      const sent = new Uint8Array(total);
      for (let i = 0; i < total; i++) sent[i] = (i * 7 + (i >> 12)) & 0xff;
      const sending = (async () => {
        for (let offset = 0; offset < total; offset += 64 * 1024) {
          await stream.send({
            data: sent.subarray(offset, offset + 64 * 1024),
          });
        }
        stream.end();
      })();
      const received = new Uint8Array(total);
      let length = 0;
      for await (const frame of stream.messages) {
        assert.equal(frame.error, undefined);
        if (frame.data) {
          received.set(frame.data, length);
          length += frame.data.byteLength;
        }
      }
      await sending;
      assert.equal(length, total);
      assert.ok(received.every((byte, i) => byte === sent[i]));
    } finally {
      stream.abort();
      connector.close();
    }
    // A second open frame is not data: the tunnel ends with INVALID_REQUEST.
    assert.equal(
      await refusal(t, [
        { open: { device_id: "tun-2", token, kind: "MQTT" } },
        { open: { device_id: "tun-2", token, kind: "MQTT" } },
      ]),
      "INVALID_REQUEST",
    );
  },
);

contractTest(
  "tunnels count against the device's connection rate limit",
  {
    config: {
      "relay.rate_limits.connections.device": { per_second: 0.01, burst: 2 },
    },
  },
  async (t) => {
    t.relay.core.tunnels.register("MQTT", echo);
    const token = t.registerDevice("tun-3");
    const open: TunnelFrame = {
      open: { device_id: "tun-3", token, kind: "MQTT" },
    };
    const results: string[] = [];
    for (let i = 0; i < 3; i++) {
      const connector = deviceConnector(t.clientOptions);
      const stream = connector.openTunnel!();
      await stream.send(open);
      await stream.send({ data: new Uint8Array([i]) });
      stream.end();
      let outcome = "";
      try {
        for await (const frame of stream.messages) {
          if (frame.error) outcome = frame.error.code;
          else if (frame.data) outcome ||= `echo ${frame.data[0]}`;
        }
      } catch (error) {
        outcome ||= (error as { code?: string }).code ?? String(error);
      }
      results.push(outcome);
      stream.abort();
      connector.close();
    }
    assert.deepEqual(results, ["echo 0", "echo 1", "RATE_LIMITED"]);
  },
);
