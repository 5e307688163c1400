// One running relay per relay.id in a cluster (issue 17): two relays with one
// id would overwrite each other's directory entries and answer each other's
// requests. A relay claims its id in the relays' bucket before it says it is
// alive: each heartbeat carries the instance's random nonce, and a heartbeat
// of another instance that is still fresh means the id is taken. A relay
// that crashed cannot release its id, so a fresh but silent heartbeat is
// waited out (at most relay_ttl_seconds): a live instance beats again within
// a third of it and the newcomer fails; a dead one never does. Writes are
// compare-and-set, so of two instances starting at once one wins.
import type { NatsConnection } from "@nats-io/transport-node";
import { type KV, Kvm } from "@nats-io/kv";
import { RelayError } from "../errors/relay_error.ts";

/** A relay's heartbeat in the relays' bucket. */
export interface RelayEntry {
  relay_id: string;
  heard_at: number;
  /** Random per process: which instance wrote the heartbeat. */
  instance?: string;
  /** Where devices reach it (a draining relay sends its devices there). */
  relay_address?: string;
  quic_address?: string;
  /** It drains: no devices should move to it. */
  draining?: boolean;
}

export interface RelayClaimOptions {
  bucket: string;
  key: string;
  entry: () => RelayEntry;
  ttlMs: number;
  now?: () => number;
}

/** Polls for the other instance's next heartbeat while waiting it out. */
const POLL_MS = 100;

/** Resolves once this instance holds the id; rejects naming relay.id when another live one does. */
export async function claimRelayId(
  nc: NatsConnection,
  options: RelayClaimOptions,
): Promise<void> {
  const kv = await new Kvm(nc).open(options.bucket);
  const now = options.now ?? Date.now;
  let seen: { revision: number; until: number } | undefined;
  for (;;) {
    const current = await kv.get(options.key);
    const entry = options.entry();
    if (current === null || current.operation !== "PUT") {
      if (await written(() => kv.create(options.key, JSON.stringify(entry)))) {
        return;
      }
      continue; // another instance created it first: look again
    }
    const held = current.json<RelayEntry>();
    const age = Math.max(0, now() - held.heard_at);
    if (held.instance === entry.instance || age >= options.ttlMs) {
      if (
        await written(() => update(kv, options.key, entry, current.revision))
      ) {
        return;
      }
      continue;
    }
    if (seen !== undefined && seen.revision !== current.revision) {
      throw new RelayError(
        "INVALID_REQUEST",
        `config key relay.id: ${entry.relay_id} is already running in this cluster (another instance said it is alive ${
          (age / 1000).toFixed(1)
        } s ago); every relay needs its own relay.id`,
      );
    }
    // Fresh but maybe dead: wait for its next beat or the end of its TTL.
    seen ??= { revision: current.revision, until: now() + options.ttlMs - age };
    if (now() >= seen.until) {
      if (
        await written(() => update(kv, options.key, entry, current.revision))
      ) {
        return;
      }
      continue;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function update(
  kv: KV,
  key: string,
  entry: RelayEntry,
  revision: number,
): Promise<number> {
  return kv.update(key, JSON.stringify(entry), revision);
}

/** Whether a compare-and-set write landed (false: someone wrote first). */
async function written(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (error) {
    if (/wrong last sequence|key exists/i.test((error as Error).message)) {
      return false;
    }
    throw error;
  }
}
