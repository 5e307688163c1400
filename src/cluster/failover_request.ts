// A NATS request/reply that survives the loss of one NATS node. A request or
// its reply that was on the dead node is gone, and the requester would wait
// out the whole deadline. So the request is asked again when the topology
// changes: this relay's connection came back on another node, a node left
// (when NATS reports it: only for servers learnt from the cluster, not for
// configured ones), or another relay says it rejoined after losing its node.
// Asking again is safe for relay.v1 requests: the device's answer cache
// recognises the repeat (controller id and sequence number), as it does a
// controller's retry. A relay that is reconnecting has no subscriptions for a
// moment ("no responders"): that answer waits a little for it to rejoin.
import type { Msg, NatsConnection } from "@nats-io/transport-node";

/** Where a relay says it reconnected to NATS (its relay id as the body). */
const REJOINED_SUBJECT = "relay.rejoined";
/** How long "no responders" waits for the relay to rejoin (NATS reconnects within ~2 s). */
const REJOIN_WAIT_MS = 2000;

/** Resolves `changed` on the next topology change. */
export class TopologyWatch {
  #next = Promise.withResolvers<void>();

  constructor(nc: NatsConnection, relayId: string) {
    (async () => {
      for await (const status of nc.status()) {
        if (status.type === "reconnect") {
          this.#changed();
          nc.publish(REJOINED_SUBJECT, relayId);
        } else if (status.type === "update" && status.deleted?.length) {
          this.#changed();
        }
      }
    })().catch(() => {
      // The connection closed: no more changes.
    });
    nc.subscribe(REJOINED_SUBJECT, {
      callback: (error, message) => {
        if (error === null && message.string() !== relayId) this.#changed();
      },
    });
  }

  /** Resolves on the next change. */
  get changed(): Promise<void> {
    return this.#next.promise;
  }

  #changed(): void {
    this.#next.resolve();
    this.#next = Promise.withResolvers<void>();
  }
}

/** nc.request, asked again after each topology change until `timeoutMs`. */
export async function requestThroughFailover(
  nc: NatsConnection,
  watch: TopologyWatch,
  subject: string,
  data: string,
  timeoutMs: number,
): Promise<Msg> {
  const giveUpAt = performance.now() + timeoutMs;
  for (;;) {
    const changed = watch.changed.then(() => "changed" as const);
    const attempt = nc.request(subject, data, {
      timeout: Math.max(1, giveUpAt - performance.now()),
    });
    const outcome = await Promise.race([attempt, changed]).catch(
      (error: Error) => error,
    );
    if (outcome === "changed") {
      // Its reply, if it still comes, is not waited for.
      attempt.catch(() => {});
      continue;
    }
    if (!(outcome instanceof Error)) return outcome;
    if (!/no responders/i.test(outcome.message)) throw outcome;
    // Gone, or rejoining: ask again if it rejoins in time.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const rejoined = await Promise.race([
      changed,
      new Promise<"gone">((resolve) => {
        timer = setTimeout(
          () => resolve("gone"),
          Math.min(REJOIN_WAIT_MS, giveUpAt - performance.now()),
        );
      }),
    ]);
    clearTimeout(timer);
    if (rejoined === "gone") throw outcome;
  }
}
