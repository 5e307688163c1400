// The CLI's known-devices file, like SSH's known_hosts: one
// "<device-id> <fingerprint>" line per trusted device, '#' comments. Written
// with mode 0600 (directory 0700), replaced atomically.
import { dirname } from "node:path";
import { RelayError } from "../errors/relay_error.ts";
import { isFingerprint } from "./hpke_suite.ts";
import type { KnownKeyStore } from "./key_pinning.ts";

const HEADER =
  "# Devices whose end-to-end encryption key this controller trusts (relay ctl).\n" +
  "# <device-id> <fingerprint>; delete a line to trust a device's new key.\n";

export class KnownDevicesFile implements KnownKeyStore {
  readonly path: string;
  readonly description: string;

  constructor(path: string) {
    this.path = path;
    this.description = path;
  }

  async get(deviceId: string): Promise<string | undefined> {
    return (await this.#read()).get(deviceId);
  }

  async set(deviceId: string, fingerprint: string): Promise<void> {
    const entries = await this.#read();
    entries.set(deviceId, fingerprint);
    const lines = [...entries].map(([id, key]) => `${id} ${key}\n`);
    await Deno.mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const temporary = `${this.path}.${crypto.randomUUID()}.tmp`;
    await Deno.writeTextFile(temporary, HEADER + lines.join(""), {
      mode: 0o600,
    });
    await Deno.rename(temporary, this.path);
  }

  async #read(): Promise<Map<string, string>> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return new Map();
      throw error;
    }
    const entries = new Map<string, string>();
    for (const [index, raw] of text.split("\n").entries()) {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) continue;
      const [deviceId, fingerprint, extra] = line.split(/\s+/);
      if (
        deviceId === undefined || fingerprint === undefined ||
        extra !== undefined || !isFingerprint(fingerprint)
      ) {
        throw new RelayError(
          "INVALID_REQUEST",
          `${this.path}:${
            index + 1
          }: expected "<device-id> SHA256:<fingerprint>"`,
        );
      }
      entries.set(deviceId, fingerprint);
    }
    return entries;
  }
}
