// Which device keys a controller trusts: explicit pins (device id ->
// fingerprint) win; otherwise a known-keys store with trust on first use, as
// SSH does with known_hosts. A key that differs from the trusted one is
// refused: the relay hands out the keys, so it could swap them.
import { RelayError } from "../errors/relay_error.ts";
import { fingerprint, isFingerprint } from "./hpke_suite.ts";

/** Where trusted fingerprints are remembered (memory, a file, ...). */
export interface KnownKeyStore {
  get(deviceId: string): string | undefined | Promise<string | undefined>;
  set(deviceId: string, fingerprint: string): void | Promise<void>;
  /** Shown in the refusal of a changed key ("remove it from ..."). */
  readonly description?: string;
}

export class MemoryKnownKeys implements KnownKeyStore {
  readonly #keys = new Map<string, string>();
  readonly description = "this controller's in-memory known keys";

  get(deviceId: string): string | undefined {
    return this.#keys.get(deviceId);
  }

  set(deviceId: string, fingerprint: string): void {
    this.#keys.set(deviceId, fingerprint);
  }
}

export interface KeyPinningOptions {
  /** Device id -> "SHA256:..." fingerprint; the device's key must match. */
  pins?: Record<string, string>;
  /** Keys trusted so far (default: in memory, per ControllerClient). */
  knownKeys?: KnownKeyStore;
  /** Trust and remember the first key seen for an unpinned device (default true). */
  trustOnFirstUse?: boolean;
  /** Called when a device's key is trusted for the first time. */
  onFirstUse?: (deviceId: string, fingerprint: string) => void;
}

export class KeyPinning {
  readonly #pins: ReadonlyMap<string, string>;
  readonly #known: KnownKeyStore;
  readonly #tofu: boolean;
  readonly #onFirstUse: KeyPinningOptions["onFirstUse"];

  constructor(options: KeyPinningOptions = {}) {
    for (const [deviceId, pin] of Object.entries(options.pins ?? {})) {
      if (!isFingerprint(pin)) {
        throw new RelayError(
          "INVALID_REQUEST",
          `e2e: pin for ${deviceId} is not a fingerprint like SHA256:<43 base64url characters>`,
        );
      }
    }
    this.#pins = new Map(Object.entries(options.pins ?? {}));
    this.#known = options.knownKeys ?? new MemoryKnownKeys();
    this.#tofu = options.trustOnFirstUse ?? true;
    this.#onFirstUse = options.onFirstUse;
  }

  /** Returns the key's fingerprint when trusted; throws RelayError UNAUTHORIZED otherwise. */
  async verify(deviceId: string, publicKey: Uint8Array): Promise<string> {
    const offered = await fingerprint(publicKey);
    const pinned = this.#pins.get(deviceId);
    if (pinned !== undefined) {
      if (pinned === offered) return offered;
      throw changed(deviceId, offered, `${pinned} is pinned`, "update the pin");
    }
    const known = await this.#known.get(deviceId);
    if (known === offered) return offered;
    if (known !== undefined) {
      throw changed(
        deviceId,
        offered,
        `${known} was trusted on first use`,
        `remove ${deviceId} from ${
          this.#known.description ?? "the known keys"
        } or pin the new key`,
      );
    }
    if (!this.#tofu) {
      throw new RelayError(
        "UNAUTHORIZED",
        `e2e: device ${deviceId} offers key ${offered}, which is not pinned; pin it to trust it`,
        { source: "upstream" },
      );
    }
    await this.#known.set(deviceId, offered);
    this.#onFirstUse?.(deviceId, offered);
    return offered;
  }
}

function changed(
  deviceId: string,
  offered: string,
  trusted: string,
  remedy: string,
): RelayError {
  return new RelayError(
    "UNAUTHORIZED",
    `e2e: device ${deviceId} offers key ${offered} but ${trusted}; refusing ` +
      `(the relay or the device may be compromised; if the device really has a new key, ${remedy})`,
    { source: "upstream", retryable: false },
  );
}
