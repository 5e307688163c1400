// Reconnecting over QUIC must not grow the process: a connector dials every
// attempt from one UDP endpoint (Deno keeps native memory for each endpoint
// ever opened), and callers can share one endpoint across connectors.
import assert from "node:assert/strict";
import { RelayError } from "../src/errors/relay_error.ts";
import { createDevCa, issueServerCertificate } from "../src/tls/dev_pki.ts";
import { quicDeviceConnector } from "../transports/quic/quic_connectors.ts";
import { startTestRelay } from "./harness.ts";

/** Sockets this process holds open (UDP endpoints among them). */
function openSockets(): number {
  let sockets = 0;
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    try {
      if (
        Deno.readLinkSync(`/proc/self/fd/${entry.name}`).startsWith("socket:")
      ) {
        sockets++;
      }
    } catch {
      // Closed while we looked.
    }
  }
  return sockets;
}

Deno.test("QUIC reconnects dial from the connector's one UDP endpoint", async () => {
  const t = await startTestRelay({ transport: "quic" });
  const connector = quicDeviceConnector({
    address: t.relay.quicAddress,
    caPem: t.relay.caPem,
  });
  try {
    const warm = connector.connect();
    await warm.ready;
    warm.abort();
    const before = openSockets();
    for (let i = 0; i < 20; i++) {
      const stream = connector.connect();
      await stream.ready;
      stream.abort();
    }
    const opened = openSockets() - before;
    assert.ok(opened <= 0, `20 reconnects opened ${opened} sockets`);
  } finally {
    connector.close();
    await t.close();
  }
});

Deno.test("connectors given one QUIC endpoint share it and leave it open", async () => {
  const t = await startTestRelay({ transport: "quic" });
  const endpoint = new Deno.QuicEndpoint({ hostname: "0.0.0.0" });
  const options = { address: t.relay.quicAddress, caPem: t.relay.caPem };
  try {
    const before = openSockets();
    for (let i = 0; i < 3; i++) {
      const connector = quicDeviceConnector({ ...options, endpoint });
      const stream = connector.connect();
      await stream.ready;
      stream.abort();
      connector.close();
    }
    // Closing a connector must not close the caller's endpoint.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const last = quicDeviceConnector({ ...options, endpoint });
    const stream = last.connect();
    await stream.ready;
    stream.abort();
    last.close();
    const opened = openSockets() - before;
    assert.ok(opened <= 0, `the connectors opened ${opened} sockets`);
  } finally {
    endpoint.close();
    await t.close();
  }
});

Deno.test("a QUIC connection the relay refuses (shedding handshakes) is marked refused, for the short backoff", async () => {
  const ca = await createDevCa();
  const { serverCertPem, serverKeyPem } = await issueServerCertificate(ca, {
    hosts: ["127.0.0.1"],
  });
  const server = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  const listener = server.listen({
    cert: serverCertPem,
    key: serverKeyPem,
    alpnProtocols: ["relay.v1"],
  });
  const refusing = (async () => {
    for await (const incoming of listener) incoming.refuse();
  })();
  const connector = quicDeviceConnector({
    address: `127.0.0.1:${server.addr.port}`,
    caPem: ca.caCertPem,
  });
  try {
    const error = await connector.probe().then(
      () => assert.fail("the refused connection succeeded"),
      (error) => error,
    );
    assert.ok(error instanceof RelayError, String(error));
    assert.equal(error.code, "UNAVAILABLE");
    assert.equal(error.refused, true, error.message);
  } finally {
    connector.close();
    server.close();
    await refusing.catch(() => undefined);
  }
});
