// Sessions moving between relays of a cluster (issue 17), the core's side:
// a draining relay tells its devices where to go and waits for them to leave,
// and a relay whose session resumed elsewhere hands the requests waiting for
// the device over to the new holder.
import { RelayError } from "../errors/relay_error.ts";
import type { Logger } from "../observability/logger.ts";
import type { DeviceRegistry } from "./device_registry.ts";
import type { FleetView } from "./fleet_view.ts";

/** How often a drain checks whether its devices have moved. */
const DRAIN_POLL_MS = 50;

/**
 * Sends every device here a `move` naming another live relay (spread over
 * them, fewest devices first) and waits until they have all left or
 * `timeoutMs` passed. Resolves with the devices told to move; 0 at once when
 * there is no other relay to go to.
 */
export async function moveDevicesAway(
  registry: DeviceRegistry,
  fleet: FleetView | undefined,
  logger: Logger,
  timeoutMs: number,
): Promise<number> {
  await fleet?.announceDraining();
  const targets = fleet?.moveTargets() ?? [];
  if (targets.length === 0) return 0;
  const sessions = registry.list();
  sessions.forEach((session, index) => {
    const target = targets[index % targets.length]!;
    session.link?.send({
      move: {
        reason: "relay draining",
        relay_address: target.relayAddress,
        quic_address: target.quicAddress,
      },
    }).catch(() => {
      // The link is failing: the device reconnects elsewhere anyway.
    });
  });
  logger.info("draining", { devices: sessions.length, relays: targets.length });
  const deadline = Date.now() + timeoutMs;
  while (registry.size > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
  }
  logger.info("drained", {
    moved: sessions.length - registry.size,
    left: registry.size,
  });
  return sessions.length;
}

/**
 * The device resumed session `connectionId` on relay `toRelay`: its session
 * here ends without an offline event, and the requests waiting for it follow
 * it there (each still settles once, for its waiter here).
 */
export function handOverSession(
  registry: DeviceRegistry,
  fleet: FleetView | undefined,
  logger: Logger,
  move: { deviceId: string; connectionId: string; toRelay: string },
): void {
  const { deviceId, toRelay } = move;
  const pending = registry.handOver(
    deviceId,
    move.connectionId,
    new RelayError("UNAVAILABLE", "session moved to another relay"),
  );
  if (pending === undefined) return;
  logger.info("device session moved", {
    device_id: deviceId,
    to_relay: toRelay,
    requests_handed_over: pending.length,
  });
  for (const entry of pending) {
    const { request, signal } = entry;
    const forwarded = fleet?.deliverVia(toRelay, {
      deviceId,
      methodName: request.methodName,
      payload: request.payload,
      controllerId: request.controllerId,
      controllerSequenceNumber: request.controllerSequenceNumber,
      traceparent: request.traceparent,
      timeoutMs: Math.max(1, request.deadline - Date.now()),
    }, signal) ??
      Promise.reject(new RelayError("DEVICE_OFFLINE", "device moved"));
    forwarded.then(
      entry.resolve,
      (error) => entry.reject(RelayError.from(error)),
    );
  }
}
