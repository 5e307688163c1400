// The device agent's side of end-to-end encryption: opens each request with
// the device's private key, checks freshness and replays, and seals the
// response for the request's sender. Plaintext requests are refused unless
// the agent allows them.
import type { DeviceKeyPair } from "./device_key.ts";
import { envelopeKind, openRequest, requestRejected } from "./envelope.ts";
import { ReplayGuard, type ReplayGuardOptions } from "./replay_guard.ts";

export interface DeviceE2eOptions extends ReplayGuardOptions {
  key: DeviceKeyPair;
  /** Accept requests that are not encrypted (answered in plaintext). */
  allowPlaintext: boolean;
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
  /** Turns the handler's answer into the bytes sent back. */
  seal(response: Uint8Array): Promise<Uint8Array>;
}

export class DeviceE2e {
  readonly #options: DeviceE2eOptions;
  readonly #replay: ReplayGuard;

  constructor(options: DeviceE2eOptions) {
    this.#options = options;
    this.#replay = new ReplayGuard(options);
  }

  get key(): DeviceKeyPair {
    return this.#options.key;
  }

  /** Throws RelayError INVALID_REQUEST ("e2e: request rejected: ...") for what it refuses. */
  async open(
    request: IncomingRequest,
    options: OpenOptions = {},
  ): Promise<DecryptedRequest> {
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
