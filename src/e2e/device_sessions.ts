// The device's side of version 2 sessions (session_envelope.ts): which
// controller keys it accepts, the sessions it has set up (bounded, least
// recently used first out), each with its replay window, and the freshness
// rules that keep a relay from replaying requests across a device restart:
// a session is set up only if it was created within the window around the
// device's clock and not before this agent started (nor before a session
// evicted from the cache), and used only for SESSION_LIFETIME_FACTOR windows.
import { CounterWindow } from "./counter_window.ts";
import { requestRejected } from "./envelope.ts";
import { fingerprint, toBase64Url } from "./hpke_suite.ts";
import {
  type E2eKeyPair,
  parseSessionRequest,
  ReceiverSession,
  type SessionBinding,
  sessionIdOf,
  settled,
} from "./session_envelope.ts";

/** Ends the refusals after which a controller sends the request again in a new session. */
export const NEW_SESSION_HINT = "the controller starts a new one";

/** A session is used for at most this many replay windows after its creation. */
export const SESSION_LIFETIME_FACTOR = 2;

export interface DeviceSessionsOptions {
  key: E2eKeyPair;
  /** How far a session's creation may be from the device's clock. */
  windowMs: number;
  /** Sessions kept (default 4096). */
  maxSessions?: number;
  /**
   * Controller keys accepted ("SHA256:..." fingerprints, optionally bound to
   * a controller id); undefined accepts any key (sender still bound to it).
   */
  trustedControllers?: TrustedControllers | undefined;
  now?: () => number;
}

/** Fingerprints a device accepts, each for any controller id or one. */
export type TrustedControllers = ReadonlyMap<string, ReadonlySet<string> | "*">;

export interface OpenedSessionRequest {
  payload: Uint8Array;
  /** This request was opened before: answer it from the cache, never run it again. */
  replayed: boolean;
  /** The controller key that sealed it. */
  controllerFingerprint: string;
  seal(response: Uint8Array): Promise<Uint8Array>;
}

interface Kept {
  session: ReceiverSession;
  window: CounterWindow;
  controllerFingerprint: string;
}

export class DeviceSessions {
  readonly #options: DeviceSessionsOptions;
  readonly #now: () => number;
  readonly #maxSessions: number;
  /** enc | controller key (base64url) -> session, least recently used first. */
  readonly #sessions = new Map<string, Kept>();
  /** Sessions created before this are not set up (agent start, evictions). */
  #notBefore: number;

  constructor(options: DeviceSessionsOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#maxSessions = options.maxSessions ?? 4096;
    this.#notBefore = this.#now();
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Throws RelayError ("e2e: request rejected: ...") for what it refuses. */
  async open(
    binding: SessionBinding,
    method: string,
    envelope: Uint8Array,
  ): Promise<OpenedSessionRequest> {
    const head = parseSessionRequest(envelope);
    const now = this.#now();
    if (
      now > head.createdAt + SESSION_LIFETIME_FACTOR * this.#options.windowMs
    ) {
      throw requestRejected(`session expired; ${NEW_SESSION_HINT}`);
    }
    const id = toBase64Url(sessionIdOf(envelope));
    let kept = this.#sessions.get(id);
    if (kept === undefined) {
      const controllerFingerprint = await fingerprint(head.controllerPublicKey);
      this.#checkTrusted(binding.controllerId, controllerFingerprint);
      this.#checkFresh(head.createdAt, now);
      kept = {
        session: await ReceiverSession.accept(this.#options.key, binding, head),
        window: new CounterWindow(),
        controllerFingerprint,
      };
      // Kept only once a request opened under it: a forged one keeps nothing.
      const payload = kept.session.open(envelope, method, head.counter);
      this.#keep(id, kept);
      return this.#opened(kept, payload, head.counter);
    }
    const payload = kept.session.open(envelope, method, head.counter);
    this.#sessions.delete(id); // most recently used last
    this.#sessions.set(id, kept);
    return this.#opened(kept, payload, head.counter);
  }

  #opened(
    kept: Kept,
    payload: Uint8Array,
    counter: bigint,
  ): OpenedSessionRequest {
    return {
      payload,
      replayed: !kept.window.record(counter),
      controllerFingerprint: kept.controllerFingerprint,
      seal: (response) =>
        settled(() => kept.session.sealResponse(counter, response)),
    };
  }

  #checkTrusted(controllerId: string, controllerFingerprint: string): void {
    const trusted = this.#options.trustedControllers;
    if (trusted === undefined) return;
    const ids = trusted.get(controllerFingerprint);
    if (ids === "*" || ids?.has(controllerId)) return;
    throw requestRejected(
      `controller ${controllerId} sealed it with key ${controllerFingerprint}, which this device does not trust`,
      "PERMISSION_DENIED",
    );
  }

  #checkFresh(createdAt: number, now: number): void {
    const { windowMs } = this.#options;
    if (createdAt > now + windowMs) {
      throw requestRejected(
        "session created in the future (controller and device clocks differ by more than the window)",
      );
    }
    if (createdAt < now - windowMs || createdAt < this.#notBefore) {
      throw requestRejected(
        `stale session (created before this device agent started, evicted, or outside the window); ${NEW_SESSION_HINT}`,
      );
    }
  }

  #keep(id: string, kept: Kept): void {
    this.#sessions.set(id, kept);
    while (this.#sessions.size > this.#maxSessions) {
      const [oldest, evicted] = this.#sessions.entries().next().value!;
      this.#sessions.delete(oldest);
      // Its counters are forgotten: it must never be set up again.
      this.#notBefore = Math.max(
        this.#notBefore,
        evicted.session.createdAt + 1,
      );
    }
  }
}
