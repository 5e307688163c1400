// A device's trusted controller keys (relay device --trusted-controllers):
// one "<controller-id> <fingerprint>" line per key, `*` for any controller
// id, '#' comments; as the controller's known-devices file, the other way.
import { RelayError } from "../errors/relay_error.ts";
import type { TrustedControllers } from "./device_sessions.ts";
import { isFingerprint } from "./hpke_suite.ts";

/** Reads the file; throws RelayError INVALID_REQUEST naming the line it cannot read. */
export async function readTrustedControllers(
  path: string,
): Promise<TrustedControllers> {
  const trusted = new Map<string, Set<string> | "*">();
  const lines = (await Deno.readTextFile(path)).split("\n");
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const [controllerId, key, ...rest] = line.split(/\s+/);
    if (!controllerId || !key || rest.length > 0 || !isFingerprint(key)) {
      throw new RelayError(
        "INVALID_REQUEST",
        `${path}:${
          index + 1
        }: expected "<controller-id or *> SHA256:<fingerprint>"`,
      );
    }
    const ids = trusted.get(key);
    if (controllerId === "*" || ids === "*") trusted.set(key, "*");
    else trusted.set(key, new Set([...(ids ?? []), controllerId]));
  }
  return trusted;
}
