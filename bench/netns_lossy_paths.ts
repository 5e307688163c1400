// Lossy paths for both transports alike: a relay listening on this side of
// a veth link, one echo device process per transport inside the namespace
// on the other side, and controllers in this process on the same transport.
// Loss applies to every packet on the veth (TCP and UDP alike), both ways.
import type { CleanupStack } from "./cleanup_stack.ts";
import { BENCH_TRANSPORTS, openControllerEnd } from "./echo_path.ts";
import type { EchoCall } from "./load_patterns.ts";
import type { LossyPaths } from "./lossy_paths.ts";
import { startNetnsDevice } from "./netns_device.ts";
import { createNetnsLink } from "./netns_link.ts";
import { startRelayFixture } from "./relay_fixture.ts";
import type { Target } from "./scenario_runner.ts";

/** `parent` closes the paths too if the run ends (or is interrupted) first. */
export async function netnsLossyPaths(
  relayConfig: Record<string, unknown>,
  parent: CleanupStack,
  progress: (text: string) => void,
): Promise<LossyPaths> {
  const cleanup = parent.child();
  try {
    const link = await createNetnsLink();
    cleanup.defer(() => link.close());
    progress(
      `loss: namespace ${link.namespace}, relay on ${link.hostAddress}, devices on ${link.peerAddress}`,
    );
    const fixture = await startRelayFixture({
      host: link.hostAddress,
      overrides: relayConfig,
    });
    cleanup.defer(() => fixture.close());
    const calls: Partial<Record<Target, EchoCall>> = {};
    for (const transport of BENCH_TRANSPORTS) {
      const deviceId = `bench-lossy-${transport}`;
      progress(`loss: starting device ${deviceId} in ${link.namespace}`);
      const device = await startNetnsDevice({
        namespace: link.namespace,
        relay: fixture.relay,
        transport,
        deviceId,
        credential: fixture.registerDevice(deviceId),
      });
      cleanup.defer(() => device.close());
      const controller = openControllerEnd(fixture.relay, transport, deviceId);
      cleanup.defer(() => controller.close());
      calls[transport] = (payload) => controller.session.call("echo", payload);
    }
    return {
      method: `netns+${link.rules.tool}`,
      calls,
      missing: {},
      async setLoss(percent) {
        await link.rules.set(percent);
        await link.mark();
      },
      async count() {
        const dropped = await link.rules.dropped();
        return {
          dropped: dropped.inbound + dropped.outbound,
          offered: await link.packetsSinceMark(),
        };
      },
      close: () => cleanup.closeAll(),
    };
  } catch (error) {
    await cleanup.closeAll();
    throw error;
  }
}
