import assert from "node:assert/strict";
import { RelayError } from "../errors/relay_error.ts";
import { validateDeviceId } from "./device_id.ts";

Deno.test("device ids: letters, digits and . _ : - up to 128 characters", () => {
  for (const id of ["d", "device-1", "a.b_c:d-e", "9", "x".repeat(128)]) {
    validateDeviceId(id);
  }
  for (
    const id of ["", "-lead", ".lead", "has space", "a/b", "x".repeat(129)]
  ) {
    assert.throws(
      () => validateDeviceId(id),
      (error) =>
        error instanceof RelayError && error.code === "INVALID_REQUEST" &&
        error.source === "downstream",
      JSON.stringify(id),
    );
  }
});
