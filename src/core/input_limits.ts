// Validation of caller-supplied names and metadata, so that hostile input is
// refused with a message naming what was wrong before it reaches state,
// logs or devices.
import type { RelayConfig } from "../config/config_schema.ts";
import { RelayError } from "../errors/relay_error.ts";

/** Envelope fields around the largest payload in one transport message. */
export const MESSAGE_ENVELOPE_BYTES = 64 * 1024;

/** The one message-size limit both transports enforce. */
export function maxMessageBytes(config: RelayConfig): number {
  return config.relay.request.max_payload_bytes + MESSAGE_ENVELOPE_BYTES;
}

/** Printable ASCII without spaces: gRPC-style names like "pkg.Svc/Method". */
const METHOD_NAME_PATTERN = /^[\x21-\x7e]+$/;

export class InputLimits {
  readonly #limits: RelayConfig["relay"]["limits"];
  readonly #encoder = new TextEncoder();

  constructor(limits: RelayConfig["relay"]["limits"]) {
    this.#limits = limits;
  }

  checkMethodName(method: string): void {
    if (method === "") throw invalid("method_name is required");
    if (
      this.#bytes(method) > this.#limits.max_method_name_bytes ||
      !METHOD_NAME_PATTERN.test(method)
    ) {
      throw invalid(
        `method_name must be 1-${this.#limits.max_method_name_bytes} printable ASCII characters without spaces`,
      );
    }
  }

  /** Register metadata and label filters: bounded count and sizes. */
  checkMetadata(metadata: Record<string, string>, what: string): void {
    const entries = Object.entries(metadata);
    if (entries.length > this.#limits.max_metadata_entries) {
      throw invalid(
        `${what} has ${entries.length} entries, more than ${this.#limits.max_metadata_entries}`,
      );
    }
    for (const [key, value] of entries) {
      if (
        key === "" || this.#bytes(key) > this.#limits.max_metadata_key_bytes
      ) {
        throw invalid(
          `${what} keys must be 1-${this.#limits.max_metadata_key_bytes} bytes`,
        );
      }
      if (this.#bytes(value) > this.#limits.max_metadata_value_bytes) {
        throw invalid(
          `${what} value of ${
            JSON.stringify(key.slice(0, 64))
          } is longer than ${this.#limits.max_metadata_value_bytes} bytes`,
        );
      }
    }
  }

  #bytes(text: string): number {
    return this.#encoder.encode(text).byteLength;
  }
}

function invalid(message: string): RelayError {
  return new RelayError("INVALID_REQUEST", message, { source: "downstream" });
}
