// Device ids: what a device may call itself. One rule for the store, the
// device handshake, tunnels, request routing and the CLI.
import { RelayError } from "../errors/relay_error.ts";

const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** Throws INVALID_REQUEST unless `deviceId` is 1-128 characters of [A-Za-z0-9._:-], not starting with a symbol. */
export function validateDeviceId(deviceId: string): void {
  if (!DEVICE_ID_PATTERN.test(deviceId)) {
    throw new RelayError(
      "INVALID_REQUEST",
      "device id must be 1-128 characters of letters, digits, '.', '_', ':' or '-'",
      { source: "downstream" },
    );
  }
}
