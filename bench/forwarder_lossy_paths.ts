// Fallback lossy path when no network namespace can be made: the QUIC echo
// device reaches the relay through the tests' user-space UDP forwarder
// (seeded loss); TCP cannot be impaired that way, so h2 has no figure.
import { UdpForwarder } from "../test/net/udp_forwarder.ts";
import type { CleanupStack } from "./cleanup_stack.ts";
import {
  openControllerEnd,
  startEchoAgent,
  transportOptions,
} from "./echo_path.ts";
import type { LossyPaths } from "./lossy_paths.ts";
import type { RelayFixture } from "./relay_fixture.ts";

const SEED = 0x5eed;

/** `parent` closes the paths too if the run ends (or is interrupted) first. */
export async function forwarderLossyPaths(
  fixture: RelayFixture,
  parent: CleanupStack,
  whyNoNamespace: string,
): Promise<LossyPaths> {
  const cleanup = parent.child();
  const forwarder = new UdpForwarder({
    upstream: fixture.relay.quicAddress,
    seed: SEED,
  });
  cleanup.defer(() => forwarder.close());
  const deviceId = "bench-lossy-quic";
  try {
    const agent = await startEchoAgent(
      {
        ...transportOptions(fixture.relay, "quic"),
        quicAddress: forwarder.address,
      },
      { id: deviceId, credential: fixture.registerDevice(deviceId) },
    );
    cleanup.defer(() => agent.close());
  } catch (error) {
    await cleanup.closeAll();
    throw error;
  }
  const controller = openControllerEnd(fixture.relay, "quic", deviceId);
  cleanup.defer(() => controller.close());
  const seen = () =>
    forwarder.stats.received.up + forwarder.stats.received.down;
  let mark = { lost: 0, seen: 0 };
  return {
    method: "udp-forwarder (QUIC only)",
    calls: { quic: (payload) => controller.session.call("echo", payload) },
    missing: { h2: `n/a (TCP loss needs a namespace: ${whyNoNamespace})` },
    setLoss(percent) {
      forwarder.impair({ lossRate: percent / 100 });
      mark = { lost: forwarder.stats.lost, seen: seen() };
      return Promise.resolve();
    },
    count() {
      return Promise.resolve({
        dropped: forwarder.stats.lost - mark.lost,
        offered: seen() - mark.seen,
      });
    },
    close: () => cleanup.closeAll(),
  };
}
