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

export interface DecryptedRequest {
  payload: Uint8Array;
  /** False for a plaintext request the agent accepted. */
  encrypted: boolean;
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
  async open(request: IncomingRequest): Promise<DecryptedRequest> {
    if (envelopeKind(request.payload) === undefined) {
      if (!this.#options.allowPlaintext) {
        throw requestRejected(
          "not encrypted, and this device accepts only end-to-end encrypted requests",
        );
      }
      return {
        payload: request.payload,
        encrypted: false,
        seal: (response) => Promise.resolve(response),
      };
    }
    const opened = await openRequest(this.#options.key, {
      deviceId: request.deviceId,
      controllerId: request.controllerId,
      method: request.method,
    }, request.payload);
    this.#replay.check(opened.enc, opened.sealedAt);
    return {
      payload: opened.payload,
      encrypted: true,
      seal: (response) => opened.sealResponse(response),
    };
  }
}
