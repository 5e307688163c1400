// The QUIC listener stream by stream: controller sessions on one QUIC
// connection do not wait for each other, and a stream that breaks the
// framing (oversized length, malformed protobuf) is closed on its own while
// the relay keeps serving everyone else.

import assert from "node:assert/strict";
import { controllerConnector } from "../mod.ts";
import type { ControllerMessage, RelayMessage } from "../src/sdk/connector.ts";
import type { StreamOpen } from "../src/gen/relay/v1/StreamOpen.ts";
import type { ControllerStreamFrame__Output } from "../src/gen/relay/v1/ControllerStreamFrame.ts";
import { encodeFrame, FrameReader } from "../transports/quic/frame_stream.ts";
import { codecFor } from "../transports/quic/relay_codec.ts";
import { MESSAGE_ENVELOPE_BYTES } from "../src/core/input_limits.ts";
import { parseHostPort } from "../src/config/host_port.ts";
import { quicDeviceConnector } from "../transports/quic/quic_connectors.ts";
import { UdpForwarder } from "./net/udp_forwarder.ts";
import {
  decode,
  encode,
  eventually,
  hangUntilAborted,
  startTestRelay,
  type TestRelay,
} from "./harness.ts";

const codecs = {
  open: codecFor<StreamOpen>("StreamOpen"),
  relayMessage: codecFor<RelayMessage>("RelayMessage"),
  controllerFrame: codecFor<ControllerStreamFrame__Output>(
    "ControllerStreamFrame",
  ),
  listRequest: codecFor<Record<string, never>>("ListOnlineDevicesRequest"),
};

/** Runs `body` against a relay whose clients all use QUIC. */
async function withQuicRelay(
  config: Record<string, unknown>,
  body: (t: TestRelay) => Promise<void>,
): Promise<void> {
  const t = await startTestRelay({ transport: "quic", config });
  try {
    await body(t);
  } finally {
    await t.close();
  }
}

Deno.test("a stalled session does not delay another session on the same QUIC connection", async () => {
  await withQuicRelay({}, async (t) => {
    const agent = await t.device("streams-1");
    let stalls = 0;
    agent.handle("stall", (request) => {
      stalls++;
      return hangUntilAborted(request);
    });
    // One controller, hence one QUIC connection with a stream per session.
    const controller = t.controller();
    const stalled = controller.openSession("streams-1");
    const prompt = controller.openSession("streams-1");
    const cancel = new AbortController();
    const waiting = Array.from(
      { length: 100 },
      () =>
        stalled.call("stall", encode("never answered"), {
          timeoutMs: 5000,
          signal: cancel.signal,
        }).catch((error) => error),
    );
    try {
      await eventually(() => stalls === 100, 3000, "100 stalled requests");
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        const reply = await prompt.call("echo", encode(`prompt-${i}`));
        const latency = performance.now() - started;
        assert.equal(decode(reply), `prompt-${i}`);
        assert.ok(latency < 500, `answer ${i} took ${latency} ms`);
      }
    } finally {
      cancel.abort();
    }
    for (const outcome of await Promise.all(waiting)) {
      assert.equal((outcome as { code?: string }).code, "CANCELLED");
    }
    await stalled.close();
    await prompt.close();
  });
});

Deno.test("a controller that stops reading one session does not stall another", async () => {
  await withQuicRelay({}, async (t) => {
    const agent = await t.device("streams-2");
    const big = new Uint8Array(256 * 1024).fill(7);
    let answered = 0;
    agent.handle("big", () => {
      answered++;
      return big;
    });
    // A raw stream that is never read: 40 answers of 256 KiB (10 MiB) fill
    // its QUIC flow-control window and the relay's writes to it block.
    const connector = controllerConnector(t.clientOptions);
    const unread = connector.openStream(t.relay.adminToken);
    const prompt = t.controller().openSession("streams-2");
    try {
      for (let n = 1; n <= 40; n++) {
        await unread.send(
          {
            target_device_id: "streams-2",
            method_name: "big",
            sequence_number: n,
            encrypted_payload: new Uint8Array(0),
            timeout_ms: 10_000,
          } satisfies ControllerMessage,
        );
      }
      // The device answers them all: its own stream is not blocked.
      await eventually(() => answered === 40, 3000, "40 big answers");
      // Warm-up: opens the session and fetches the device key (E2E) first.
      await prompt.call("echo", encode("warm-up"));
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        const reply = await prompt.call("echo", encode(`prompt-${i}`));
        const latency = performance.now() - started;
        assert.equal(decode(reply), `prompt-${i}`);
        assert.ok(latency < 500, `answer ${i} took ${latency} ms`);
      }
    } finally {
      unread.abort();
      connector.close();
      await prompt.close();
    }
  });
});

/** A raw relay.v1 QUIC connection (as a Deno client would open it). */
async function rawQuic(t: TestRelay) {
  const { host, port } = parseHostPort(t.relay.quicAddress);
  const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1" });
  const conn = await Deno.connectQuic({
    endpoint,
    hostname: host,
    port,
    alpnProtocols: ["relay.v1"],
    caCerts: [t.relay.caPem],
    serverName: "localhost",
  });
  return {
    conn,
    /** Opens a stream and writes `chunks` to it. */
    async stream(...chunks: Uint8Array[]) {
      const stream = await conn.createBidirectionalStream();
      const writer = stream.writable.getWriter();
      for (const chunk of chunks) await writer.write(chunk);
      return {
        writer,
        frames: new FrameReader(stream.readable, 1 << 20),
      };
    },
    close() {
      conn.close({ closeCode: 0, reason: "done" });
      endpoint.close();
    },
  };
}

/** A frame header announcing `length` bytes, followed by a few of them. */
function frameHeader(length: number): Uint8Array {
  const bytes = new Uint8Array(4 + 16);
  new DataView(bytes.buffer).setUint32(0, length);
  return bytes;
}

/** Bytes that do not decode as any protobuf message (truncated varint field). */
const GARBAGE = new Uint8Array([0x08, 0xff, 0xff, 0xff, 0xff, 0xff]);

const open = (kind: NonNullable<StreamOpen["kind"]>, authorization = "") =>
  encodeFrame(codecs.open.encode({ kind, authorization }));

/** Reads frames until the stream ends or fails; gives up after `timeoutMs`. */
async function readToEnd(
  frames: FrameReader,
  timeoutMs = 3000,
): Promise<{ frames: Uint8Array[]; end: "fin" | "error" }> {
  const seen: Uint8Array[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`stream still open after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    for (;;) {
      const frame = await Promise.race([frames.next(), timeout]);
      if (frame === undefined) return { frames: seen, end: "fin" };
      seen.push(frame);
    }
  } catch (error) {
    if ((error as Error).message.startsWith("stream still open")) {
      await frames.cancel();
      throw error;
    }
    return { frames: seen, end: "error" };
  } finally {
    clearTimeout(timer);
  }
}

/** The relay still serves: a QUIC device answers a QUIC controller. */
async function assertRelayServes(t: TestRelay, deviceId: string) {
  await t.device(deviceId);
  const reply = await t.controller().call(deviceId, "echo", encode("alive"));
  assert.equal(decode(reply), "alive");
}

// The frame limit is the payload limit plus the envelope allowance.
const SMALL_FRAMES = { "relay.request.max_payload_bytes": 1024 };
const OVERSIZED = 1024 + MESSAGE_ENVELOPE_BYTES + 1;

Deno.test("a stream whose first frame is oversized or not a StreamOpen is closed; the relay keeps serving", async () => {
  await withQuicRelay(SMALL_FRAMES, async (t) => {
    const raw = await rawQuic(t);
    try {
      for (const first of [frameHeader(OVERSIZED), encodeFrame(GARBAGE)]) {
        const bad = await raw.stream(first);
        // The relay stops reading (STOP_SENDING) and ends its side.
        const outcome = await readToEnd(bad.frames);
        assert.deepEqual(outcome.frames, [], "no answer frame");
        await assert.rejects(async () => {
          for (let i = 0; i < 50; i++) {
            await bad.writer.write(new Uint8Array(64));
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
        }, /stopped by peer/);
      }
      // The same QUIC connection still carries a good stream.
      const list = await raw.stream(
        open("LIST_ONLINE_DEVICES", `Bearer ${t.relay.adminToken}`),
        encodeFrame(codecs.listRequest.encode({})),
      );
      const listed = await readToEnd(list.frames);
      assert.equal(listed.frames.length, 1);
      const reply = codecs.controllerFrame.decode(listed.frames[0]!);
      assert.deepEqual(reply.devices?.devices, []);
      await assertRelayServes(t, "after-bad-open");
    } finally {
      raw.close();
    }
  });
});

// Regression test: a failed read used to mark the stream closed for writes too,
// so the error frame was never sent and the stream stayed open.
Deno.test({
  name:
    "an oversized or malformed frame after StreamOpen closes that stream with INVALID_REQUEST; the relay keeps serving",
  fn: async () => {
    await withQuicRelay(SMALL_FRAMES, async (t) => {
      const raw = await rawQuic(t);
      try {
        const cases = [
          ["DEVICE_CONNECT", frameHeader(OVERSIZED)],
          ["DEVICE_CONNECT", encodeFrame(GARBAGE)],
          ["CONNECT_TO_DEVICE", frameHeader(OVERSIZED)],
          ["CONNECT_TO_DEVICE", encodeFrame(GARBAGE)],
        ] as const;
        for (const [kind, body] of cases) {
          const bad = await raw.stream(
            open(kind, `Bearer ${t.relay.adminToken}`),
            body,
          );
          const outcome = await readToEnd(bad.frames);
          assert.equal(outcome.frames.length, 1, `${kind}: one error frame`);
          const error = kind === "DEVICE_CONNECT"
            ? codecs.relayMessage.decode(outcome.frames[0]!).error
            : codecs.controllerFrame.decode(outcome.frames[0]!).error;
          assert.equal(error?.code, "INVALID_REQUEST", `${kind}: code`);
          assert.equal(outcome.end, "fin", `${kind}: stream ended`);
        }
        await assertRelayServes(t, "after-bad-frame");
      } finally {
        raw.close();
      }
    });
  },
});

// Regression test: the accept loop's error handler read incoming.remoteAddr,
// which throws once accept() consumed the connection, ending the process.
Deno.test({
  name:
    "a client abandoning its QUIC handshake is counted and does not take the relay down",
  fn: async () => {
    await withQuicRelay({}, async (t) => {
      // 30 ms each way against a 40 ms handshake timeout: the client's
      // Initial reaches the relay, then the client closes before it is done.
      const forwarder = new UdpForwarder({
        upstream: t.relay.quicAddress,
        impairment: { delayMs: 30 },
      });
      try {
        const impatient = quicDeviceConnector({
          address: forwarder.address,
          caPem: t.relay.caPem,
          connectTimeoutMs: 40,
        });
        await assert.rejects(impatient.probe(), /timed out/);
        impatient.close();
        const base = `http://127.0.0.1:${t.relay.healthPort}`;
        let metrics = "";
        const deadline = Date.now() + 3000;
        while (!/relay_quic_handshake_failures_total [1-9]/.test(metrics)) {
          assert.ok(Date.now() < deadline, "handshake failure counted");
          await new Promise((resolve) => setTimeout(resolve, 20));
          metrics = await (await fetch(`${base}/metrics`)).text();
        }
        await assertRelayServes(t, "after-abandoned-handshake");
      } finally {
        await forwarder.close();
      }
    });
  },
});
