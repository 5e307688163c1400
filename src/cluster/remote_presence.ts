// The presence of the devices other relays of the cluster hold, as changes:
// what MQTT publishes so that every relay's broker shows the whole fleet
// (issue 17). The fleet directory says which live relay holds which device;
// this follows its entry changes and, every fifth of the relay TTL, the
// relays' liveness, and reports a device whose holder, connection or state
// changed, or which no other live relay holds any more (with why).
import type { DeviceInfo } from "../core/messages.ts";
import type { DeviceEntry } from "./fleet_directory.ts";

/** A device another live relay holds. */
export interface RemoteHolder {
  deviceId: string;
  relayId: string;
  connectionId: string;
  state: "online" | "suspect" | "disconnected";
  info: DeviceInfo;
  /** The holder's registration generation (1 when an entry lacks it). */
  sessionGeneration: number;
}

/**
 * Why no other relay holds a device any more: `remote`, its holder reported
 * it offline (or it came to this relay); `relay_lost`, its holder left the
 * cluster view (unheard of for relay_ttl_seconds).
 */
export type RemoteGoneReason = "remote" | "relay_lost";

export interface RemotePresenceChange {
  deviceId: string;
  /** Undefined: no other live relay holds it now. */
  holder: RemoteHolder | undefined;
  /** What was reported before (undefined for a device new to the view). */
  previous: RemoteHolder | undefined;
  /** Set when `holder` is undefined. */
  reason?: RemoteGoneReason;
  /** When it happened (Unix ms): the holder's last change, or now. */
  at: number;
}

/** What this needs of the fleet directory (src/cluster/fleet_directory.ts). */
export interface RemoteEntries {
  remoteEntry(deviceId: string): DeviceEntry | undefined;
  remoteEntries(): DeviceEntry[];
  liveRelays(): string[];
  onEntryChange(listener: (deviceId: string) => void): void;
}

export interface RemotePresenceOptions {
  relayId: string;
  relayTtlMs: number;
  now?: () => number;
}

export class RemotePresence {
  readonly #directory: RemoteEntries;
  readonly #options: RemotePresenceOptions;
  readonly #now: () => number;
  /** What was last reported per device another relay holds. */
  readonly #known = new Map<string, RemoteHolder>();
  readonly #dirty = new Set<string>();
  #listener: ((change: RemotePresenceChange) => void) | undefined;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #sweepTimer: ReturnType<typeof setInterval> | undefined;

  constructor(directory: RemoteEntries, options: RemotePresenceOptions) {
    this.#directory = directory;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Reports the devices held now, then every change, to `listener`. */
  start(listener: (change: RemotePresenceChange) => void): void {
    this.#listener = listener;
    // Entry changes come in bursts (a relay's devices reconnecting): batched.
    this.#directory.onEntryChange((deviceId) => {
      this.#dirty.add(deviceId);
      this.#flushTimer ??= setTimeout(() => this.#flush(), 0);
    });
    this.#sweep();
    // A relay leaves the view by silence, which no entry change announces.
    this.#sweepTimer = setInterval(
      () => this.#sweep(),
      Math.min(1000, Math.max(50, this.#options.relayTtlMs / 5)),
    );
  }

  /** The device's holder now, if another live relay holds it. */
  current(deviceId: string): RemoteHolder | undefined {
    const entry = this.#directory.remoteEntry(deviceId);
    return entry && holderOf(entry);
  }

  /**
   * Whether this relay clears the devices of a relay that left the view when
   * relays share one broker: the live relay with the lowest id does.
   */
  isJanitor(): boolean {
    const live = new Set(this.#directory.liveRelays());
    live.add(this.#options.relayId);
    return [...live].sort()[0] === this.#options.relayId;
  }

  close(): void {
    this.#directory.onEntryChange(() => {});
    clearTimeout(this.#flushTimer);
    clearInterval(this.#sweepTimer);
    this.#listener = undefined;
  }

  #flush(): void {
    this.#flushTimer = undefined;
    const ids = [...this.#dirty];
    this.#dirty.clear();
    for (const deviceId of ids) this.#check(deviceId, this.current(deviceId));
  }

  #sweep(): void {
    const held = new Map<string, RemoteHolder>();
    for (const entry of this.#directory.remoteEntries()) {
      const holder = holderOf(entry);
      held.set(holder.deviceId, holder);
    }
    for (const deviceId of this.#known.keys()) {
      if (!held.has(deviceId)) this.#check(deviceId, undefined);
    }
    for (const [deviceId, holder] of held) this.#check(deviceId, holder);
  }

  #check(deviceId: string, holder: RemoteHolder | undefined): void {
    const previous = this.#known.get(deviceId);
    if (holder !== undefined) {
      if (previous !== undefined && sameHolding(previous, holder)) return;
      this.#known.set(deviceId, holder);
      const at = Number(holder.info.last_seen) || this.#now();
      this.#listener?.({ deviceId, holder, previous, at });
      return;
    }
    if (previous === undefined) return;
    this.#known.delete(deviceId);
    const lost = !this.#directory.liveRelays().includes(previous.relayId);
    this.#listener?.({
      deviceId,
      holder: undefined,
      previous,
      reason: lost ? "relay_lost" : "remote",
      at: this.#now(),
    });
  }
}

function holderOf(entry: DeviceEntry): RemoteHolder {
  const { info } = entry;
  return {
    deviceId: info.device_id ?? "",
    relayId: entry.relay_id,
    connectionId: info.connection_id ?? "",
    state: info.state === "SUSPECT"
      ? "suspect"
      : info.state === "DISCONNECTED"
      ? "disconnected"
      : "online",
    info,
    sessionGeneration: entry.session_generation ?? 1,
  };
}

function sameHolding(a: RemoteHolder, b: RemoteHolder): boolean {
  return a.relayId === b.relayId && a.connectionId === b.connectionId &&
    a.state === b.state;
}
