// Hostile input: handshakes that never finish (slowloris). With
// relay.session.handshake_timeout_seconds at 0.2 s the relay must hang up on
// each of them well within 2 s, and keep serving well-behaved clients.
import assert from "node:assert/strict";
import { deviceConnector } from "../../mod.ts";
import { withDeadline } from "../with_deadline.ts";
import { hostileTest } from "./hostile_case.ts";
import { rawQuic, readToEnd } from "./raw_quic.ts";
import {
  closedWithin,
  H2_GOAWAY,
  H2_SETTINGS,
  h2FrameTypes,
  h2PrefaceAndSettings,
  halfClientHello,
  readUntilClosed,
  tcpConnect,
  tlsConnect,
  writeAll,
} from "./raw_socket.ts";
import { assertStillServes } from "./still_serves.ts";

const HANDSHAKE = { "relay.session.handshake_timeout_seconds": 0.2 };
/** How long the relay may take to hang up with a 0.2 s handshake timeout. */
const BOUND_MS = 2000;

hostileTest(
  "handshake: a TCP connection to the gRPC port that sends nothing is closed",
  { config: HANDSHAKE, transports: ["h2"] },
  async (t) => {
    const conn = await tcpConnect(t);
    const ms = await closedWithin(conn, BOUND_MS);
    assert.ok(ms >= 0, `still open after ${BOUND_MS} ms`);
    // Counted, so a client that never gets through TLS is visible.
    const metrics = await (await fetch(
      `http://127.0.0.1:${t.relay.healthPort}/metrics`,
    )).text();
    assert.match(
      metrics,
      /relay_connections_refused_total\{reason="tls_failed"\} 1\b/,
    );
    await assertStillServes(t);
  },
);

hostileTest(
  "handshake: timeouts never block the source address (a NAT'd fleet in a reconnect storm shares it)",
  {
    config: { ...HANDSHAKE, "relay.auth.max_failures_per_address": 2 },
    transports: ["h2"],
  },
  async (t) => {
    // TLS done, no HTTP/2 stream: the relay's first-stream timeout ends each.
    const conns = await Promise.all([1, 2, 3, 4].map(() => tlsConnect(t)));
    for (const conn of conns) {
      assert.ok(await closedWithin(conn, BOUND_MS) >= 0, "timed out");
    }
    // Four timeouts from 127.0.0.1, twice the failure limit: still served.
    await assertStillServes(t);
  },
);

hostileTest(
  "handshake: an HTTP/2 connection that opens no stream is dropped without a GOAWAY",
  { config: HANDSHAKE, transports: ["h2"] },
  async (t) => {
    // A GOAWAY can crash a Deno client in nghttp2 (denoland/deno#36788), so
    // the relay ends such a connection by closing the socket.
    const conn = await tlsConnect(t);
    await writeAll(conn, h2PrefaceAndSettings());
    const received = await readUntilClosed(conn, BOUND_MS);
    assert.ok(received !== undefined, `still open after ${BOUND_MS} ms`);
    const types = h2FrameTypes(received);
    assert.ok(types.includes(H2_SETTINGS), `frames: ${types}`);
    assert.ok(!types.includes(H2_GOAWAY), `frames: ${types}`);
    await assertStillServes(t);
  },
);

hostileTest(
  "handshake: past max_pending_handshakes a new connection is closed at once, and served again once a place is free",
  {
    config: { "relay.session.max_pending_handshakes": 2 },
    transports: ["h2"],
  },
  async (t) => {
    // Two silent connections hold both handshake places (default timeout).
    const holders = await Promise.all([tcpConnect(t), tcpConnect(t)]);
    const third = await tcpConnect(t);
    const ms = await closedWithin(third, 1000);
    assert.ok(ms >= 0, "the third connection was not closed within 1 s");
    const metrics = await (await fetch(
      `http://127.0.0.1:${t.relay.healthPort}/metrics`,
    )).text();
    assert.match(
      metrics,
      /relay_connections_refused_total\{reason="handshakes_pending"\} 1\b/,
    );
    for (const holder of holders) holder.close();
    await assertStillServes(t);
  },
);

hostileTest(
  "handshake: half a TLS ClientHello on the gRPC port is closed",
  { config: HANDSHAKE, transports: ["h2"] },
  async (t) => {
    const conn = await tcpConnect(t);
    await writeAll(conn, halfClientHello());
    const ms = await closedWithin(conn, BOUND_MS);
    assert.ok(ms >= 0, `still open after ${BOUND_MS} ms`);
    await assertStillServes(t);
  },
);

hostileTest(
  "handshake: a QUIC connection that never opens a stream is closed",
  { config: HANDSHAKE, transports: ["quic"] },
  async (t) => {
    // The client keeps the connection alive, so only the relay can end it.
    const raw = await rawQuic(t, { keepAliveMs: 50, idleTimeoutMs: 30_000 });
    try {
      const started = performance.now();
      await withDeadline(
        raw.conn.closed.catch(() => undefined),
        BOUND_MS,
        "the relay to close it",
      );
      assert.ok(performance.now() - started < BOUND_MS);
    } finally {
      raw.close();
    }
    await assertStillServes(t);
  },
);

hostileTest(
  "handshake: a QUIC stream that never completes its StreamOpen frame is closed",
  { config: HANDSHAKE, transports: ["quic"] },
  async (t) => {
    const raw = await rawQuic(t, { keepAliveMs: 50, idleTimeoutMs: 30_000 });
    try {
      // Two bytes of a frame header: the stream exists, its StreamOpen never comes.
      const stream = await raw.stream(new Uint8Array([0x00, 0x00]));
      const started = performance.now();
      const outcome = await readToEnd(stream.frames, BOUND_MS);
      assert.deepEqual(outcome.frames, []);
      assert.ok(performance.now() - started < BOUND_MS);
    } finally {
      raw.close();
    }
    await assertStillServes(t);
  },
);

hostileTest(
  "handshake: a device stream that never sends register is closed with UNAUTHORIZED",
  { config: HANDSHAKE },
  async (t) => {
    const connector = deviceConnector(t.clientOptions);
    try {
      const stream = connector.connect();
      await withDeadline(stream.ready, BOUND_MS, "the transport");
      const started = performance.now();
      const inbound = stream.messages[Symbol.asyncIterator]();
      // The relay says why (RelayMessage.error) before it closes the stream.
      const first = await withDeadline(
        inbound.next(),
        BOUND_MS,
        "the relay to close the silent device stream",
      );
      const elapsed = performance.now() - started;
      const error = first.value?.error;
      assert.equal(error?.code, "UNAUTHORIZED");
      assert.match(error?.message ?? "", /handshake timeout/);
      assert.ok(elapsed < BOUND_MS, `closed after ${elapsed} ms`);
      stream.abort();
    } finally {
      connector.close();
    }
    await assertStillServes(t);
  },
);
