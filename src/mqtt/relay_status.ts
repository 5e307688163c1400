// The relay's own retained status, relay/relay/{relay_id}/status: "online"
// on every connection to the broker, the last will "offline"/"crashed" (the
// broker publishes it when the relay vanishes without a clean DISCONNECT),
// and "offline"/"shutdown" at a graceful shutdown. Consumers treat devices
// whose presence names a relay that is offline as offline.
import type { Publication } from "./publish_queue.ts";
import { relayStatusTopic } from "./mqtt_topics.ts";

export interface RelayStatus {
  relay_id: string;
  state: "online" | "offline";
  /** Why the relay is offline. */
  reason?: "shutdown" | "crashed";
  relay_address: string;
  /** When this relay process started (RFC 3339, UTC). */
  started_at: string;
  /**
   * When the status was set (RFC 3339, UTC). For the last will: when the
   * connection that registered it was opened (the crash comes later).
   */
  time: string;
}

export interface RelayStatusInput {
  relayId: string;
  relayAddress: string;
  startedAt: number;
  now: number;
}

export function relayStatus(
  input: RelayStatusInput,
  state: RelayStatus["state"],
  reason?: NonNullable<RelayStatus["reason"]>,
): Publication {
  const status: RelayStatus = {
    relay_id: input.relayId,
    state,
    ...(reason !== undefined ? { reason } : {}),
    relay_address: input.relayAddress,
    started_at: new Date(input.startedAt).toISOString(),
    time: new Date(input.now).toISOString(),
  };
  return {
    topic: relayStatusTopic(input.relayId),
    payload: JSON.stringify(status),
    qos: 1,
    retain: true,
  };
}
