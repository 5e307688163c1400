// Hostile input: garbage bytes and malformed protobuf on both listeners. The
// relay refuses each with the transport's own answer (a closed connection,
// a gRPC status, an error frame) and keeps serving everyone else.
import assert from "node:assert/strict";
import { deviceConnector } from "../../mod.ts";
import { encodeFrame } from "../../transports/quic/frame_stream.ts";
import { decode, encode, eventually } from "../harness.ts";
import { withDeadline } from "../with_deadline.ts";
import { hostileTest } from "./hostile_case.ts";
import {
  controllerMessageBytes,
  deviceResponseOf,
  grpc,
  rawGrpcClient,
} from "./raw_grpc.ts";
import {
  BAD_PROTOBUF,
  controllerError,
  deviceError,
  openFrame,
  rawQuic,
  readToEnd,
} from "./raw_quic.ts";
import { relayCodecs as quicCodecs } from "../../transports/quic/relay_codec.ts";
import {
  closedWithin,
  garbage,
  tcpConnect,
  tlsConnect,
  writeAll,
} from "./raw_socket.ts";
import { assertStillServes } from "./still_serves.ts";

hostileTest(
  "malformed: garbage after TLS on the gRPC port",
  { transports: ["h2"] },
  async (t) => {
    for (const alpn of [["h2"], []]) {
      const conn = await tlsConnect(t, alpn);
      await writeAll(conn, garbage(4096));
      const ms = await closedWithin(conn, 2000);
      assert.ok(ms >= 0, `relay kept the connection (ALPN ${alpn}) open`);
    }
    await assertStillServes(t);
  },
);

hostileTest(
  "malformed: plain TCP garbage before TLS on the gRPC port",
  { transports: ["h2"] },
  async (t) => {
    for (
      const bytes of [
        garbage(512),
        encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), // cleartext h2 preface
        encode("GET / HTTP/1.1\r\nHost: relay\r\n\r\n"),
      ]
    ) {
      const conn = await tcpConnect(t);
      await writeAll(conn, bytes);
      const ms = await closedWithin(conn, 2000);
      assert.ok(ms >= 0, "relay kept the plaintext connection open");
    }
    await assertStillServes(t);
  },
);

hostileTest(
  "malformed: a gRPC message whose body is invalid protobuf",
  { transports: ["h2"] },
  async (t) => {
    await t.device("mal-dev");
    const client = rawGrpcClient(t);
    try {
      for (const method of ["ConnectToDevice", "DeviceConnect"] as const) {
        const call = client.stream(method, t.relay.adminToken);
        call.write(BAD_PROTOBUF);
        const status = await call.status(2000);
        assert.equal(status.code, grpc.status.INTERNAL, `${method}: status`);
        assert.match(status.details, /deserializ/i, `${method}: details`);
      }
      // The same HTTP/2 connection still carries a good call.
      const good = client.stream("ConnectToDevice", t.relay.adminToken);
      good.write(controllerMessageBytes({
        target_device_id: "mal-dev",
        method_name: "echo",
        sequence_number: 1,
        encrypted_payload: encode("fine"),
        timeout_ms: 3000,
      }));
      await eventually(() => good.received.length === 1, 3000, "an answer");
      const answer = deviceResponseOf(good.received[0]!);
      assert.equal(answer.error, "OK");
      assert.equal(decode(answer.encrypted_payload), "fine");
      good.end();
      assert.equal((await good.status()).code, grpc.status.OK);
    } finally {
      client.close();
    }
    await assertStillServes(t);
  },
);

hostileTest(
  "malformed: a device stream half-closed before its register message is ended by the relay",
  { transports: ["h2"] },
  async (t) => {
    const client = rawGrpcClient(t);
    try {
      const call = client.stream("DeviceConnect");
      call.end();
      // Else the call stays open until the client gives up on it.
      const status = await call.status(2000);
      assert.equal(status.code, grpc.status.OK);
      assert.equal(call.received.length, 0);
    } finally {
      client.close();
    }
    await assertStillServes(t);
  },
);

hostileTest(
  "malformed: a device stream whose first message is not register",
  {},
  async (t) => {
    t.registerDevice("mal-dev");
    const connector = deviceConnector(t.clientOptions);
    try {
      const stream = connector.connect();
      await stream.send({
        device_id: "mal-dev",
        heartbeat: { connection_id: "conn_forged", timestamp: Date.now() },
      });
      const first = await withDeadline(
        stream.messages[Symbol.asyncIterator]().next(),
        2000,
        "the relay's answer",
      );
      assert.equal(first.value?.error?.code, "INVALID_REQUEST");
      assert.match(first.value?.error?.message ?? "", /register/);
      stream.abort();
    } finally {
      connector.close();
    }
    await assertStillServes(t);
  },
);

hostileTest(
  "malformed: garbage frames and invalid protobuf on QUIC streams",
  { transports: ["quic"] },
  async (t) => {
    const raw = await rawQuic(t);
    try {
      // Invalid protobuf where the StreamOpen frame belongs: closed, no answer.
      const badOpen = await raw.stream(encodeFrame(BAD_PROTOBUF));
      assert.deepEqual((await readToEnd(badOpen.frames)).frames, []);
      // Bytes that are not even a whole frame header, then the end.
      const shortStream = await raw.stream(new Uint8Array([0x00, 0x00]));
      await shortStream.writer.close();
      assert.deepEqual((await readToEnd(shortStream.frames)).frames, []);
      // An unknown stream kind.
      const unknownKind = await raw.stream(
        encodeFrame(new Uint8Array([0x08, 0x63])), // StreamOpen.kind = 99
      );
      const unknown = await readToEnd(unknownKind.frames);
      assert.equal(controllerError(unknown)?.code, "INVALID_REQUEST");

      // Invalid protobuf inside a valid length prefix after StreamOpen.
      const badDevice = await raw.stream(
        openFrame("DEVICE_CONNECT"),
        encodeFrame(BAD_PROTOBUF),
      );
      const deviceOutcome = await readToEnd(badDevice.frames);
      assert.equal(deviceError(deviceOutcome)?.code, "INVALID_REQUEST");
      assert.match(deviceError(deviceOutcome)?.message ?? "", /malformed/);
      const badController = await raw.stream(
        openFrame("CONNECT_TO_DEVICE", t.relay.adminToken),
        encodeFrame(BAD_PROTOBUF),
      );
      const controllerOutcome = await readToEnd(badController.frames);
      assert.equal(controllerError(controllerOutcome)?.code, "INVALID_REQUEST");
      assert.match(
        controllerError(controllerOutcome)?.message ?? "",
        /malformed/,
      );
      // A stream that ends inside a frame.
      const truncated = await raw.stream(
        openFrame("CONNECT_TO_DEVICE", t.relay.adminToken),
        encodeFrame(new Uint8Array(100)).subarray(0, 50),
      );
      await truncated.writer.close();
      const truncatedOutcome = await readToEnd(truncated.frames);
      assert.equal(controllerError(truncatedOutcome)?.code, "INVALID_REQUEST");

      // The same QUIC connection still carries a good stream.
      const list = await raw.stream(
        openFrame("LIST_ONLINE_DEVICES", t.relay.adminToken),
        encodeFrame(quicCodecs.listRequest.encode({})),
      );
      const listed = await readToEnd(list.frames);
      assert.equal(listed.frames.length, 1);
      assert.ok(quicCodecs.controllerFrame.decode(listed.frames[0]!).devices);
    } finally {
      raw.close();
    }
    await assertStillServes(t);
  },
);

hostileTest(
  "malformed: garbage UDP datagrams and a wrong ALPN on the QUIC port",
  { transports: ["quic"] },
  async (t) => {
    const [hostname, port] = t.relay.quicAddress.split(":");
    const socket = Deno.listenDatagram({
      transport: "udp",
      hostname: "127.0.0.1",
      port: 0,
    });
    try {
      for (let i = 0; i < 20; i++) {
        await socket.send(garbage(1200), {
          transport: "udp",
          hostname: hostname!,
          port: Number(port),
        });
      }
    } finally {
      socket.close();
    }
    await assert.rejects(
      withDeadline(rawQuic(t, { alpn: "h2" }), 3000, "a wrong-ALPN handshake"),
      (error: Error) => !error.message.startsWith("timed out"),
    );
    await assertStillServes(t);
  },
);
