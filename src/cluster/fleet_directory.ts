// Which relay of the cluster holds which device (issue 17, the fleet view):
// every relay writes its sessions, as DeviceInfo, into a KV bucket that every
// relay mirrors, and says it is alive in another bucket every `relayTtlMs / 3`.
// A relay unheard of for `relayTtlMs` (killed, cut off) is gone: its devices
// leave the view, whatever its entries still say. A presence change here
// (online, resumed, suspect, offline) writes or removes that device's entry,
// so a remote device's state and last_seen are those of its last change.
import type { NatsConnection } from "@nats-io/transport-node";
import type { DeviceInfo } from "../core/messages.ts";
import { waitAtMost } from "../limits/deadline.ts";
import { keyOf, KvMirror } from "./kv_mirror.ts";
import { claimRelayId, type RelayEntry } from "./relay_claim.ts";

export interface FleetDirectoryOptions {
  relayId: string;
  /** Copies of the buckets (relay.cluster.replicas). */
  replicas: number;
  /** Default 15 s. */
  relayTtlMs?: number;
  /** How long open() waits for the buckets (default 10 s). */
  openTimeoutMs?: number;
  now?: () => number;
}

/** A device's entry: the relay holding it, its DeviceInfo and registration generation. */
export interface DeviceEntry {
  relay_id: string;
  info: DeviceInfo;
  session_generation?: number;
}

const DEVICES_BUCKET = "relay_devices";
const RELAYS_BUCKET = "relay_relays";
const DEFAULT_RELAY_TTL_MS = 15_000;
/** How long a stopping relay tries to tell the cluster (NATS may be down). */
const LEAVE_TIMEOUT_MS = 2000;

export class FleetDirectory {
  readonly #options: FleetDirectoryOptions;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #devices = new Map<string, DeviceEntry>();
  readonly #relays = new Map<string, RelayEntry>();
  #deviceBucket: KvMirror | undefined;
  #relayBucket: KvMirror | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #addresses = { relay_address: "", quic_address: "" };
  #draining = false;
  /** Entry writes, one after another, so a device's last change lands last. */
  #writes: Promise<void> = Promise.resolve();
  /** This process's nonce in its heartbeats (one running relay per id). */
  readonly #instance = crypto.randomUUID();
  /** Told the device id of every entry that changed (remote presence). */
  #onEntry: (deviceId: string) => void = () => {};

  private constructor(options: FleetDirectoryOptions) {
    this.#options = options;
    this.#ttlMs = options.relayTtlMs ?? DEFAULT_RELAY_TTL_MS;
    this.#now = options.now ?? Date.now;
  }

  static async open(
    nc: NatsConnection,
    options: FleetDirectoryOptions,
  ): Promise<FleetDirectory> {
    const directory = new FleetDirectory(options);
    const common = {
      replicas: options.replicas,
      giveUpAt: Date.now() + (options.openTimeoutMs ?? 10_000),
      writeTimeoutMs: 10_000,
    };
    directory.#relayBucket = await KvMirror.open(nc, {
      ...common,
      bucket: RELAYS_BUCKET,
      apply: (key, value) => {
        const entry = value as RelayEntry | undefined;
        const known = directory.#relays.get(key);
        if (entry === undefined) directory.#relays.delete(key);
        // A heartbeat retried through a NATS failover can arrive after a
        // newer one: an older heard_at would make a live relay look gone.
        else if (known === undefined || entry.heard_at >= known.heard_at) {
          directory.#relays.set(key, entry);
        }
      },
    });
    directory.#deviceBucket = await KvMirror.open(nc, {
      ...common,
      bucket: DEVICES_BUCKET,
      apply: (key, value) => {
        const deviceId = (value as DeviceEntry | undefined)?.info.device_id ??
          directory.#devices.get(key)?.info.device_id;
        if (value === undefined) directory.#devices.delete(key);
        else directory.#devices.set(key, value as DeviceEntry);
        if (deviceId !== undefined) directory.#onEntry(deviceId);
      },
    });
    await claimRelayId(nc, {
      bucket: RELAYS_BUCKET,
      key: keyOf(options.relayId),
      entry: () => directory.#entry(),
      ttlMs: directory.#ttlMs,
      now: directory.#now,
    });
    // Entries an earlier run of this id left (it crashed) hold no session now.
    for (const [key, entry] of directory.#devices) {
      if (entry.relay_id !== options.relayId) continue;
      await directory.#deviceBucket.delete(key).catch(() => {});
    }
    directory.#heartbeat = setInterval(
      () => directory.#beat().catch(() => {}),
      Math.max(1, Math.floor(directory.#ttlMs / 3)),
    );
    return directory;
  }

  /** Devices held by other relays that are alive. */
  remoteDevices(): DeviceInfo[] {
    return this.remoteEntries().map((entry) => entry.info);
  }

  /** The entries of other relays that are alive. */
  remoteEntries(): DeviceEntry[] {
    return [...this.#devices.values()]
      .filter((entry) => this.#isRemoteAndAlive(entry));
  }

  /** The other live relay that holds the device, if one does. */
  holderOf(deviceId: string): string | undefined {
    return this.remoteEntry(deviceId)?.relay_id;
  }

  /** The device's entry when another live relay holds it. */
  remoteEntry(deviceId: string): DeviceEntry | undefined {
    const entry = this.#devices.get(keyOf(deviceId));
    return entry && this.#isRemoteAndAlive(entry) ? entry : undefined;
  }

  /** Relays heard of within the TTL, this one included. */
  liveRelays(): string[] {
    return [...this.#relays.values()]
      .filter((relay) => this.#now() - relay.heard_at < this.#ttlMs)
      .map((relay) => relay.relay_id);
  }

  /** Tells `listener` the device id of every entry that changes. */
  onEntryChange(listener: (deviceId: string) => void): void {
    this.#onEntry = listener;
  }

  /**
   * The other relay whose last entry for the device names this session
   * (alive or not: a device that left a killed relay resumes elsewhere).
   */
  sessionElsewhere(deviceId: string, connectionId: string): string | undefined {
    const entry = this.#devices.get(keyOf(deviceId));
    return entry !== undefined && entry.relay_id !== this.#options.relayId &&
        entry.info.connection_id === connectionId
      ? entry.relay_id
      : undefined;
  }

  /** Resolves once the writes queued so far have landed (or failed). */
  writesLanded(): Promise<void> {
    return this.#writes;
  }

  /** The session moved to `relayId`: route there before its entry arrives. */
  noteMoved(deviceId: string, relayId: string): void {
    const key = keyOf(deviceId);
    const entry = this.#devices.get(key);
    if (entry !== undefined) {
      this.#devices.set(key, { ...entry, relay_id: relayId });
    }
  }

  /** The addresses this relay's heartbeats announce (once it listens). */
  announce(relayAddress: string, quicAddress: string): Promise<void> {
    this.#addresses = {
      relay_address: relayAddress,
      quic_address: quicAddress,
    };
    return this.#beat();
  }

  /** This relay drains: the others stop sending devices here. */
  async announceDraining(): Promise<void> {
    this.#draining = true;
    await waitAtMost(this.#beat().catch(() => {}), LEAVE_TIMEOUT_MS);
  }

  /** The other live relays that announced their address, fewest devices first. */
  otherLiveRelays(): { relayAddress: string; quicAddress: string }[] {
    const held = new Map<string, number>();
    for (const entry of this.#devices.values()) {
      held.set(entry.relay_id, (held.get(entry.relay_id) ?? 0) + 1);
    }
    return [...this.#relays.values()]
      .filter((relay) =>
        relay.relay_id !== this.#options.relayId && relay.relay_address &&
        !relay.draining && this.#isAlive(relay.relay_id)
      )
      .sort((a, b) => (held.get(a.relay_id) ?? 0) - (held.get(b.relay_id) ?? 0))
      .map((relay) => ({
        relayAddress: relay.relay_address!,
        quicAddress: relay.quic_address ?? "",
      }));
  }

  /** The device's DeviceInfo, when another live relay holds it. */
  remoteDevice(deviceId: string): DeviceInfo | undefined {
    return this.remoteEntry(deviceId)?.info;
  }

  #isRemoteAndAlive(entry: DeviceEntry): boolean {
    return entry.relay_id !== this.#options.relayId &&
      this.#isAlive(entry.relay_id);
  }

  #isAlive(relayId: string): boolean {
    const relay = this.#relays.get(keyOf(relayId));
    return relay !== undefined && this.#now() - relay.heard_at < this.#ttlMs;
  }

  /**
   * A presence change here: `current()` is the device's entry at the time of
   * writing (undefined: this relay holds it no more). Writes are queued in
   * order; a failed one is dropped (the next change or a restart mends it).
   */
  deviceChanged(
    deviceId: string,
    current: () => DeviceInfo | undefined,
    sessionGeneration?: () => number | undefined,
  ): Promise<void> {
    this.#writes = this.#writes.then(() =>
      this.#write(deviceId, current(), sessionGeneration?.())
    ).catch(() => {});
    return this.#writes;
  }

  async #write(
    deviceId: string,
    info: DeviceInfo | undefined,
    sessionGeneration: number | undefined,
  ): Promise<void> {
    const key = keyOf(deviceId);
    if (info !== undefined) {
      const entry: DeviceEntry = { relay_id: this.#options.relayId, info };
      if (sessionGeneration !== undefined) {
        entry.session_generation = sessionGeneration;
      }
      await this.#deviceBucket!.put(key, entry);
    } else if (this.#devices.get(key)?.relay_id === this.#options.relayId) {
      // Only this relay's entry: the device may be on another relay by now.
      await this.#deviceBucket!.delete(key);
    }
  }

  /**
   * Stops the heartbeat and lets the queued writes land (a shutdown's
   * offline events). `release`: leaves the view at once (the others forget
   * this relay without waiting for its TTL, and the id can be claimed again
   * at once: a graceful stop).
   */
  async close(options: { release?: boolean } = {}): Promise<void> {
    clearInterval(this.#heartbeat);
    await this.#writes;
    if (!options.release) return;
    await waitAtMost(
      this.#relayBucket!.delete(keyOf(this.#options.relayId)).catch(() => {}),
      LEAVE_TIMEOUT_MS,
    );
  }

  #beat(): Promise<void> {
    return this.#relayBucket!.put(keyOf(this.#options.relayId), this.#entry());
  }

  #entry(): RelayEntry {
    return {
      relay_id: this.#options.relayId,
      heard_at: this.#now(),
      instance: this.#instance,
      ...this.#addresses,
      ...(this.#draining ? { draining: true } : {}),
    };
  }
}
