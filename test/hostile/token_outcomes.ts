// What a controller token gets from the relay, on both surfaces that check
// it: the unary ListOnlineDevices and a ConnectToDevice stream.
import assert from "node:assert/strict";
import { PLAINTEXT } from "./hostile_case.ts";
import type { RelayError } from "../../src/errors/relay_error.ts";
import { decode, encode, type TestRelay } from "../harness.ts";

/** Both surfaces refuse `token` with UNAUTHORIZED and a message matching `reason`. */
export async function assertTokenRefused(
  t: TestRelay,
  token: string,
  deviceId: string,
  reason: RegExp,
): Promise<void> {
  const client = t.controller(token, PLAINTEXT);
  const check = (surface: string) => (error: RelayError) => {
    assert.equal(
      error.code,
      "UNAUTHORIZED",
      `${surface}: code (message: ${error.message})`,
    );
    assert.match(error.message, reason, `${surface}: message`);
    return true;
  };
  await assert.rejects(
    client.listDevices(),
    check("ListOnlineDevices"),
    "ListOnlineDevices accepted the token",
  );
  await assert.rejects(
    client.openSession(deviceId).call("echo", encode("forged"), {
      timeoutMs: 2000,
    }),
    check("ConnectToDevice"),
    "ConnectToDevice accepted the token",
  );
}

/** Both surfaces accept `token`: the device is listed and answers. */
export async function assertTokenAccepted(
  t: TestRelay,
  token: string,
  deviceId: string,
): Promise<void> {
  const client = t.controller(token, PLAINTEXT);
  const refused = (surface: string) => (error: unknown) => {
    const { code, message } = error as RelayError;
    assert.fail(`${surface} refused a valid token: ${code}: ${message}`);
  };
  const listed = await client.listDevices().catch(
    refused("ListOnlineDevices"),
  );
  assert.ok(
    listed.some((device) => device.device_id === deviceId),
    `${deviceId} is listed`,
  );
  const reply = await client.call(deviceId, "echo", encode("accepted"), {
    timeoutMs: 2000,
  }).catch(refused("ConnectToDevice"));
  assert.equal(decode(reply), "accepted");
}
