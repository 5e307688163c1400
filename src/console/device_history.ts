// What the operator console shows of a device's recent past: its transport
// history (connected, resumed, changed transport, disconnected, offline) and
// its recent errors (failed requests, offline for a reason other than a
// clean close). Bounded everywhere: a few entries per device, a fixed
// number of devices (the least recently active forgotten first), and a
// device offline for FORGET_AFTER_MS is forgotten. Metadata only, never
// payloads.
import type { PresenceEvent } from "../core/device_registry.ts";
import type { AnsweredRequest } from "../core/request_router.ts";

export const MAX_ENTRIES_PER_DEVICE = 20;
export const DEFAULT_MAX_DEVICES = 10_000;
/** An offline device's history is kept this long (15 minutes). */
export const FORGET_AFTER_MS = 15 * 60 * 1000;

export interface TransportEntry {
  at: number;
  /** "connected", "resumed", "suspect", "online", "disconnected", "offline". */
  event: string;
  transport: string;
  /** Offline reason, or "from h2" on a transport change. */
  detail: string;
}

export interface ErrorEntry {
  at: number;
  code: string;
  /** What failed: "request <method>" or "session". */
  what: string;
  message: string;
}

export interface DeviceHistoryView {
  project: string;
  transports: readonly TransportEntry[];
  errors: readonly ErrorEntry[];
  /** Unix ms it went offline here; null while this relay holds it. */
  offlineAt: number | null;
}

interface Entry {
  project: string;
  transports: TransportEntry[];
  errors: ErrorEntry[];
  offlineAt: number | null;
}

/** Offline reasons that are no error: a clean close, a move to another relay. */
const QUIET_REASONS: ReadonlySet<string> = new Set(["graceful", "moved"]);

export interface DeviceHistoryOptions {
  maxDevices?: number;
  now?: () => number;
}

export class DeviceHistory {
  /** In order of last activity, oldest first (re-inserted on every record). */
  readonly #devices = new Map<string, Entry>();
  /** Devices gone offline, by when, oldest first. */
  readonly #offline = new Map<string, number>();
  readonly #maxDevices: number;
  readonly #now: () => number;

  constructor(options: DeviceHistoryOptions = {}) {
    this.#maxDevices = options.maxDevices ?? DEFAULT_MAX_DEVICES;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#devices.size;
  }

  onPresence(event: PresenceEvent): void {
    const { session } = event;
    const entry = this.#touch(session.deviceId, session.project);
    if (event.type === "online") {
      const changed = event.previousTransport !== undefined &&
        event.previousTransport !== "" &&
        event.previousTransport !== session.transport;
      push(entry.transports, {
        at: event.at,
        event: event.resumed ? "resumed" : "connected",
        transport: session.transport,
        detail: changed
          ? `from ${event.previousTransport}`
          : event.movedFrom
          ? `moved from ${event.movedFrom}`
          : "",
      });
      entry.offlineAt = null;
      this.#offline.delete(session.deviceId);
    } else if (event.type === "state") {
      push(entry.transports, {
        at: event.at,
        event: event.state,
        transport: session.transport,
        detail: "",
      });
    } else {
      push(entry.transports, {
        at: event.at,
        event: "offline",
        transport: session.transport,
        detail: event.reason,
      });
      if (!QUIET_REASONS.has(event.reason)) {
        push(entry.errors, {
          at: event.at,
          code: "DEVICE_OFFLINE",
          what: "session",
          message: `offline: ${event.reason}`,
        });
      }
      entry.offlineAt = event.at;
      this.#offline.delete(session.deviceId);
      this.#offline.set(session.deviceId, event.at);
    }
  }

  /** Failed requests of devices it already knows (named ids alone add nothing). */
  onAnswer(answer: AnsweredRequest): void {
    if (answer.code === "OK") return;
    const entry = this.#devices.get(answer.deviceId);
    if (entry === undefined) return;
    push(entry.errors, {
      at: this.#now(),
      code: answer.code,
      what: `request ${answer.method}`,
      message: answer.errorMessage,
    });
  }

  get(deviceId: string): DeviceHistoryView | undefined {
    this.#forgetOld();
    return this.#devices.get(deviceId);
  }

  #touch(deviceId: string, project: string): Entry {
    this.#forgetOld();
    const entry = this.#devices.get(deviceId) ??
      { project, transports: [], errors: [], offlineAt: null };
    entry.project = project;
    this.#devices.delete(deviceId);
    this.#devices.set(deviceId, entry);
    if (this.#devices.size > this.#maxDevices) {
      const oldest = this.#devices.keys().next().value;
      if (oldest !== undefined) {
        this.#devices.delete(oldest);
        this.#offline.delete(oldest);
      }
    }
    return entry;
  }

  /** Offline devices past FORGET_AFTER_MS (oldest first, so it stops early). */
  #forgetOld(): void {
    const cutoff = this.#now() - FORGET_AFTER_MS;
    for (const [deviceId, at] of this.#offline) {
      if (at > cutoff) break;
      this.#offline.delete(deviceId);
      this.#devices.delete(deviceId);
    }
  }
}

function push<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > MAX_ENTRIES_PER_DEVICE) list.shift();
}
