// A file a config key names (certificates, keys, NATS credentials), read at
// start: a missing or unreadable one stops the relay naming the key.
import { RelayError } from "../errors/relay_error.ts";

export async function readConfigFile(
  path: string,
  key: string,
): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new RelayError(
      "INVALID_REQUEST",
      `config key ${key}: cannot read ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
