// Reconnecting over QUIC must not leak: each attempt has a UDP endpoint of
// its own, which has to close with its connection.
import assert from "node:assert/strict";
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

Deno.test("QUIC reconnects close the UDP endpoint of each connection they drop", async () => {
  const t = await startTestRelay({ transport: "quic" });
  const connector = quicDeviceConnector({
    address: t.relay.quicAddress,
    caPem: t.relay.caPem,
  });
  try {
    const warm = connector.connect();
    await warm.ready;
    warm.abort();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const before = openSockets();
    for (let i = 0; i < 20; i++) {
      const stream = connector.connect();
      await stream.ready;
      stream.abort();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    // A closed endpoint frees its socket when it is garbage collected.
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const after = openSockets();
    assert.ok(
      after - before <= 2,
      `20 reconnects left ${after - before} more sockets open`,
    );
  } finally {
    connector.close();
    await t.close();
  }
});
