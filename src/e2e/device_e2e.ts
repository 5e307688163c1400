// The device agent's side of end-to-end encryption: opens each request with
// the device's private key, checks freshness and replays, and seals the
// response for the request's sender. Session envelopes (version 2, one HPKE
// setup per session, the sender's key authenticated) and, for one release,
// per-request envelopes (version 1, the sender not authenticated: refused
// when the device trusts only listed controller keys). Plaintext requests
// are refused unless the agent allows them.
import type { DeviceKeyPair } from "./device_key.ts";
import { DeviceSessions, type TrustedControllers } from "./device_sessions.ts";
import { envelopeKind, openRequest, requestRejected } from "./envelope.ts";
import {
  DEFAULT_E2E_WINDOW_MS,
  ReplayGuard,
  type ReplayGuardOptions,
} from "./replay_guard.ts";
import { sessionEnvelopeKind } from "./session_envelope.ts";

export interface DeviceE2eOptions extends ReplayGuardOptions {
  key: DeviceKeyPair;
  /** Accept requests that are not encrypted (answered in plaintext). */
  allowPlaintext: boolean;
  /**
   * Accept only requests sealed with these controller keys (session
   * envelopes); undefined accepts any controller key.
   */
  trustedControllers?: TrustedControllers | undefined;
}

export interface IncomingRequest {
  deviceId: string;
  controllerId: string;
  method: string;
  payload: Uint8Array;
}

export interface OpenOptions {
  /**
   * Report a replayed envelope in `replayed` instead of refusing it: for a
   * caller that answers a retry from its idempotency cache and runs nothing.
   */
  acceptReplay?: boolean;
}

export interface DecryptedRequest {
  payload: Uint8Array;
  /** False for a plaintext request the agent accepted. */
  encrypted: boolean;
  /** This envelope was opened before (only with `acceptReplay`; never run it again). */
  replayed: boolean;
  /** Fingerprint of the controller key that sealed it (session envelopes). */
  controllerKey?: string;
  /** Turns the handler's answer into the bytes sent back. */
  seal(response: Uint8Array): Promise<Uint8Array>;
}

export class DeviceE2e {
  readonly #options: DeviceE2eOptions;
  readonly #replay: ReplayGuard;
  readonly #sessions: DeviceSessions;

  constructor(options: DeviceE2eOptions) {
    this.#options = options;
    this.#replay = new ReplayGuard(options);
    this.#sessions = new DeviceSessions({
      key: options.key,
      windowMs: options.windowMs ?? DEFAULT_E2E_WINDOW_MS,
      trustedControllers: options.trustedControllers,
      ...(options.now ? { now: options.now } : {}),
    });
  }

  get key(): DeviceKeyPair {
    return this.#options.key;
  }

  /** Throws RelayError INVALID_REQUEST ("e2e: request rejected: ...") for what it refuses. */
  async open(
    request: IncomingRequest,
    options: OpenOptions = {},
  ): Promise<DecryptedRequest> {
    if (sessionEnvelopeKind(request.payload) === "request") {
      const opened = await this.#sessions.open(
        { deviceId: request.deviceId, controllerId: request.controllerId },
        request.method,
        request.payload,
      );
      if (opened.replayed && options.acceptReplay !== true) {
        throw requestRejected("replayed");
      }
      return {
        payload: opened.payload,
        encrypted: true,
        replayed: opened.replayed,
        controllerKey: opened.controllerFingerprint,
        seal: opened.seal,
      };
    }
    if (envelopeKind(request.payload) === undefined) {
      if (!this.#options.allowPlaintext) {
        throw requestRejected(
          "not encrypted, and this device accepts only end-to-end encrypted requests",
        );
      }
      return {
        payload: request.payload,
        encrypted: false,
        replayed: false,
        seal: (response) => Promise.resolve(response),
      };
    }
    if (this.#options.trustedControllers !== undefined) {
      throw requestRejected(
        "its sender is not authenticated (envelope version 1), and this device accepts only trusted controller keys",
        "PERMISSION_DENIED",
      );
    }
    const opened = await openRequest(this.#options.key, {
      deviceId: request.deviceId,
      controllerId: request.controllerId,
      method: request.method,
    }, request.payload);
    this.#replay.checkFresh(opened.sealedAt);
    const replayed = !this.#replay.record(opened.enc, opened.sealedAt);
    if (replayed && options.acceptReplay !== true) {
      throw requestRejected("replayed");
    }
    return {
      payload: opened.payload,
      encrypted: true,
      replayed,
      seal: (response) => opened.sealResponse(response),
    };
  }
}
