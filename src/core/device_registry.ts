// Devices connected to this relay: registration with generation fencing,
// resume after a transport drop, and the presence state machine
// online -> suspect -> offline driven by a periodic sweep.
import { RelayError } from "../errors/relay_error.ts";
import { randomBase64Url } from "../store/relay_store.ts";
import {
  DeviceSession,
  type PendingDelivery,
  type PresenceState,
} from "./device_session.ts";
import type { DeviceLink } from "./links.ts";

export type OfflineReason =
  | "graceful"
  | "timeout"
  | "replaced"
  | "revoked"
  | "relay_shutdown"
  | "resume_window_expired"
  /** Resumed on another relay of the cluster: not offline at all. */
  | "moved";

type PresenceChange =
  | {
    type: "online";
    session: DeviceSession;
    resumed: boolean;
    /** On a resume, the transport the session used before. */
    previousTransport?: string;
    /** The relay of the cluster the session resumed from (a move). */
    movedFrom?: string;
  }
  | { type: "state"; session: DeviceSession; state: PresenceState }
  | { type: "offline"; session: DeviceSession; reason: OfflineReason };

/** A presence change; `at` is when it happened (Unix ms, the registry's clock). */
export type PresenceEvent = PresenceChange & { at: number };

export interface DeviceRegistryOptions {
  suspectAfterMs: number;
  offlineAfterMs: number;
  resumeWindowMs: number;
  maxPendingPerDevice: number;
  maxDevices: number;
  now?: () => number;
  onEvent?: (event: PresenceEvent) => void;
  /**
   * In a cluster: the other relay whose session of the device has this
   * connection id, so that the device resumes it here (a move).
   */
  sessionElsewhere?: (
    deviceId: string,
    connectionId: string,
  ) => string | undefined;
}

export interface RegisterParams {
  deviceId: string;
  project: string;
  link: DeviceLink;
  metadata: Record<string, string>;
  previousConnectionId: string;
  /** The device's agent forwards transparent gRPC calls to a local server. */
  grpcTarget?: boolean;
}

export class DeviceRegistry {
  readonly #sessions = new Map<string, DeviceSession>();
  readonly #resumeTimers = new Map<
    DeviceSession,
    ReturnType<typeof setTimeout>
  >();
  readonly #options: DeviceRegistryOptions;
  readonly #now: () => number;
  readonly #sweepTimer: ReturnType<typeof setInterval>;
  #generation = 0;

  constructor(options: DeviceRegistryOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const sweepMs = Math.min(1000, Math.max(5, options.suspectAfterMs / 4));
    this.#sweepTimer = setInterval(() => this.sweep(), sweepMs);
  }

  get size(): number {
    return this.#sessions.size;
  }

  get(deviceId: string): DeviceSession | undefined {
    return this.#sessions.get(deviceId);
  }

  list(): DeviceSession[] {
    return [...this.#sessions.values()];
  }

  register(
    params: RegisterParams,
  ): { session: DeviceSession; resumed: boolean } {
    const now = this.#now();
    const existing = this.#sessions.get(params.deviceId);
    const generation = ++this.#generation;

    if (
      existing !== undefined && params.previousConnectionId !== "" &&
      params.previousConnectionId === existing.connectionId
    ) {
      this.#cancelResumeTimer(existing);
      existing.link?.close(replacedError());
      existing.metadata = params.metadata;
      existing.grpcTarget = params.grpcTarget ?? false;
      const previousTransport = existing.transport;
      existing.attach(params.link, generation, now);
      this.#emit({
        type: "online",
        session: existing,
        resumed: true,
        previousTransport,
      });
      return { session: existing, resumed: true };
    }

    // A session another relay held moves here under its connection id.
    const movedFrom = params.previousConnectionId === ""
      ? undefined
      : this.#options.sessionElsewhere?.(
        params.deviceId,
        params.previousConnectionId,
      );
    if (
      existing === undefined && this.#sessions.size >= this.#options.maxDevices
    ) {
      throw new RelayError(
        "UNAVAILABLE",
        "relay is at its device connection limit",
      );
    }
    const session = new DeviceSession({
      deviceId: params.deviceId,
      project: params.project,
      connectionId: movedFrom === undefined
        ? `conn_${randomBase64Url(18)}`
        : params.previousConnectionId,
      metadata: params.metadata,
      grpcTarget: params.grpcTarget ?? false,
      maxPending: this.#options.maxPendingPerDevice,
      now,
    });
    if (existing !== undefined) {
      // The newest connection wins; the device's waiting requests move to it.
      this.#cancelResumeTimer(existing);
      existing.link?.close(replacedError());
      existing.detach();
      this.#sessions.delete(existing.deviceId);
      session.adoptPending(existing);
      this.#emit({ type: "offline", session: existing, reason: "replaced" });
    }
    this.#sessions.set(params.deviceId, session);
    session.attach(params.link, generation, now);
    if (movedFrom !== undefined) {
      this.#emit({ type: "online", session, resumed: true, movedFrom });
      return { session, resumed: true };
    }
    this.#emit({ type: "online", session, resumed: false });
    return { session, resumed: false };
  }

  /** True when `generation` is still the current link of this session. */
  isCurrent(session: DeviceSession, generation: number): boolean {
    return this.#sessions.get(session.deviceId) === session &&
      session.generation === generation;
  }

  /** Records traffic from the device; a suspect device is online again. */
  touch(session: DeviceSession, generation: number): void {
    if (!this.isCurrent(session, generation)) return;
    session.lastSeen = this.#now();
    if (session.state === "suspect") {
      session.state = "online";
      this.#emit({ type: "state", session, state: "online" });
    }
  }

  /**
   * The link of `generation` ended. A graceful end removes the session; a
   * transport drop keeps it resumable for the resume window.
   */
  linkEnded(
    session: DeviceSession,
    generation: number,
    graceful: boolean,
  ): void {
    if (!this.isCurrent(session, generation) || session.link === null) return;
    if (graceful || this.#options.resumeWindowMs === 0) {
      this.#remove(session, graceful ? "graceful" : "resume_window_expired");
      return;
    }
    session.detach();
    this.#emit({ type: "state", session, state: "disconnected" });
    const timer = setTimeout(() => {
      this.#resumeTimers.delete(session);
      if (this.isCurrent(session, generation) && session.link === null) {
        this.#remove(session, "resume_window_expired");
      }
    }, this.#options.resumeWindowMs);
    this.#resumeTimers.set(session, timer);
  }

  /**
   * Ends a device's session now (revocation, shutdown): the link is closed
   * with `linkError`, waiting requests fail with `pendingError` (default
   * DEVICE_OFFLINE).
   */
  evict(
    deviceId: string,
    reason: OfflineReason,
    linkError: RelayError,
    pendingError?: RelayError,
  ): boolean {
    const session = this.#sessions.get(deviceId);
    if (session === undefined) return false;
    session.link?.close(linkError);
    this.#remove(session, reason, pendingError);
    return true;
  }

  /**
   * The device resumed session `connectionId` on another relay: the session
   * ends here without going offline (its link, if any, closed with
   * `linkError`) and its waiting requests are returned, to follow it.
   * Undefined when this relay holds no such session.
   */
  handOver(
    deviceId: string,
    connectionId: string,
    linkError: RelayError,
  ): PendingDelivery[] | undefined {
    const session = this.#sessions.get(deviceId);
    if (session?.connectionId !== connectionId) return undefined;
    const pending = session.takePending();
    session.link?.close(linkError);
    this.#remove(session, "moved");
    return pending;
  }

  /** One pass of the presence state machine. */
  sweep(): void {
    const now = this.#now();
    for (const session of this.#sessions.values()) {
      if (session.link === null) continue;
      const idle = now - session.lastSeen;
      if (idle >= this.#options.offlineAfterMs) {
        session.link.close(
          new RelayError(
            "DEVICE_OFFLINE",
            "no heartbeat within the offline timeout",
          ),
        );
        this.#remove(session, "timeout");
      } else if (
        idle >= this.#options.suspectAfterMs && session.state === "online"
      ) {
        session.state = "suspect";
        this.#emit({ type: "state", session, state: "suspect" });
      }
    }
  }

  close(): void {
    clearInterval(this.#sweepTimer);
    for (const timer of this.#resumeTimers.values()) clearTimeout(timer);
    this.#resumeTimers.clear();
  }

  #remove(
    session: DeviceSession,
    reason: OfflineReason,
    error?: RelayError,
  ): void {
    this.#cancelResumeTimer(session);
    this.#sessions.delete(session.deviceId);
    session.detach();
    session.failAll(
      error ??
        new RelayError("DEVICE_OFFLINE", `device went offline (${reason})`),
    );
    this.#emit({ type: "offline", session, reason });
  }

  #cancelResumeTimer(session: DeviceSession): void {
    const timer = this.#resumeTimers.get(session);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#resumeTimers.delete(session);
  }

  #emit(change: PresenceChange): void {
    this.#options.onEvent?.({ ...change, at: this.#now() });
  }
}

function replacedError(): RelayError {
  return new RelayError(
    "UNAVAILABLE",
    "replaced by a newer connection of the same device",
  );
}
