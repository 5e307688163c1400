// Rate limits per controller across the cluster (issue 17), approximately:
// each relay keeps its own token buckets and, every `intervalMs`, publishes
// what each controller took from them since its last report, on
// `relay.usage` (core NATS, no JetStream: a lost report loosens the limit for
// one interval, nothing more). Every other relay charges the same amounts to
// that controller's buckets, into debt if need be. A controller spread over
// several relays is so held to about its limits: it can overshoot by what it
// takes on each relay within one interval (at most its burst plus one
// interval's refill, per relay).
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { ControllerUsage, RateLimits } from "../limits/rate_limits.ts";

const SUBJECT = "relay.usage";
/** Controllers per message, so a report stays far below NATS's max_payload. */
const MAX_ENTRIES_PER_MESSAGE = 1000;

interface WireUsage {
  relay_id: string;
  /** [controller id, requests, bytes] */
  usage: [string, number, number][];
}

export class SharedRateLimits {
  readonly #subscription: Subscription;
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(
    nc: NatsConnection,
    relayId: string,
    limits: RateLimits,
    intervalMs: number,
  ) {
    limits.shareControllerUsage();
    this.#subscription = nc.subscribe(SUBJECT, {
      callback: (error, message) => {
        if (error !== null) return;
        try {
          const report = message.json<WireUsage>();
          if (report.relay_id === relayId) return;
          for (const [controllerId, requests, bytes] of report.usage) {
            limits.chargeControllerUsage({ controllerId, requests, bytes });
          }
        } catch {
          // Malformed: another relay's report is only a hint.
        }
      },
    });
    this.#timer = setInterval(() => {
      const usage = limits.takeControllerUsage();
      for (let at = 0; at < usage.length; at += MAX_ENTRIES_PER_MESSAGE) {
        const report: WireUsage = {
          relay_id: relayId,
          usage: usage.slice(at, at + MAX_ENTRIES_PER_MESSAGE).map(toWire),
        };
        try {
          nc.publish(SUBJECT, JSON.stringify(report));
        } catch {
          // NATS is reconnecting: this interval's report is lost.
        }
      }
    }, intervalMs);
  }

  close(): void {
    clearInterval(this.#timer);
    this.#subscription.unsubscribe();
  }
}

function toWire(usage: ControllerUsage): [string, number, number] {
  return [usage.controllerId, usage.requests, usage.bytes];
}
