import assert from "node:assert/strict";
import { RelayError } from "../../src/errors/relay_error.ts";
import { PeerRelayChannels } from "./peer_relay_channels.ts";

/** A loopback address nothing listens on. */
function closedAddress(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return `127.0.0.1:${port}`;
}

const head = { method: "/s.S/M", metadata: [], deadline: undefined };

Deno.test("PeerRelayChannels: one channel per peer relay, closed when it leaves the view or the relay stops", async () => {
  const gone = closedAddress();
  const staying = closedAddress();
  let live = [gone, staying];
  const peers = new PeerRelayChannels({
    relayId: "relay-a",
    caPem: null,
    liveAddresses: () => live,
    sweepIntervalMs: 60_000,
  });
  try {
    const call = (address: string) =>
      peers.call({ address, deviceId: "dev-1", bearerToken: "t", head });
    const first = call(gone);
    first.halfClose();
    // A holder that cannot be reached: the status names the hop.
    const status = await first.status;
    assert.equal(status.code, 14);
    assert.match(
      status.message,
      /relay 127\.0\.0\.1:\d+, which holds device dev-1, is not reachable/,
    );
    const again = call(gone);
    again.halfClose();
    await again.status;
    assert.equal(peers.size, 1);
    const other = call(staying);
    other.halfClose();
    await other.status;
    assert.equal(peers.size, 2);

    live = [staying];
    peers.sweep();
    assert.equal(peers.size, 1);
  } finally {
    peers.close();
  }
  assert.equal(peers.size, 0);
  assert.throws(
    () =>
      peers.call({ address: gone, deviceId: "dev-1", bearerToken: "t", head }),
    (error) => error instanceof RelayError && error.code === "UNAVAILABLE",
  );
});
