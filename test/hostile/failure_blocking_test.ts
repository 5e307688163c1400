// Hostile input: repeated authentication failures from one source address.
// After relay.auth.max_failures_per_address failures within the window, the
// address is refused (even with good credentials) for block_seconds; then a
// good client works again. Every client here comes from 127.0.0.1, each on
// a fresh connection (a new source port), so the block must key on the
// address, not the connection.
import assert from "node:assert/strict";
import { RelayError } from "../../src/errors/relay_error.ts";
import { type TestRelay } from "../harness.ts";
import { rawDevice } from "../raw_device.ts";
import { claims, hs256 } from "./forged_tokens.ts";
import { hostileTest, sleep } from "./hostile_case.ts";
import { assertStillServes } from "./still_serves.ts";

const BLOCKING = {
  "relay.auth.max_failures_per_address": 3,
  "relay.auth.failure_window_seconds": 5,
  "relay.auth.block_seconds": 0.3,
};

/** A refusal because of the block: RATE_LIMITED, or UNAUTHORIZED naming the failures. */
function assertBlocked(
  code: string | undefined,
  message: string,
  what: string,
) {
  assert.ok(
    code === "RATE_LIMITED" ||
      (code === "UNAUTHORIZED" && /too many/i.test(message)),
    `${what}: refused because of the block, got ${code}: ${message}`,
  );
}

/** A device registration's refusal (explicit error first, or the close status). */
async function deviceOutcome(
  t: TestRelay,
  deviceId: string,
  credential: string,
) {
  try {
    const device = await rawDevice(t, deviceId, credential);
    device.drop();
    return device.first.register_response ? { code: "OK", message: "" } : {
      code: device.first.error?.code,
      message: device.first.error?.message ?? "",
    };
  } catch (error) {
    const relayError = RelayError.from(error);
    return { code: relayError.code, message: relayError.message };
  }
}

hostileTest(
  "failure blocking: repeated bad controller tokens from one address",
  { config: BLOCKING },
  async (t) => {
    await t.device("block-target");
    const good = await t.token("operator", { projects: ["default"] });
    const credential = t.registerDevice("block-dev");
    for (let i = 0; i < 3; i++) {
      const forged = await hs256(
        "guessed-secret",
        claims({ sub: `guess-${i}` }),
      );
      await assert.rejects(
        t.controller(forged).listDevices(),
        (error: RelayError) =>
          error.code === "UNAUTHORIZED" && !/too many/i.test(error.message),
        `failure ${i + 1} is an ordinary UNAUTHORIZED`,
      );
    }
    // Blocked now: a good token and a good device credential are refused.
    const [controller, device] = await Promise.all([
      t.controller(good).listDevices().then(
        () => ({ code: "OK", message: "" }),
        (error) => RelayError.from(error),
      ),
      deviceOutcome(t, "block-dev", credential),
    ]);
    assertBlocked(controller.code, controller.message, "controller");
    assertBlocked(device.code, device.message, "device");

    // After block_seconds the address is served again.
    await sleep(400);
    assert.ok(
      (await t.controller(good).listDevices()).some((d) =>
        d.device_id === "block-target"
      ),
    );
    assert.equal((await deviceOutcome(t, "block-dev", credential)).code, "OK");
    await assertStillServes(t);
  },
);

hostileTest(
  "failure blocking: repeated bad device credentials from one address",
  { config: BLOCKING },
  async (t) => {
    const credential = t.registerDevice("block-dev");
    for (let i = 0; i < 3; i++) {
      const refused = await deviceOutcome(t, "block-dev", `rdc_wrong_${i}`);
      assert.equal(refused.code, "UNAUTHORIZED");
      assert.doesNotMatch(refused.message, /too many/i);
    }
    const [device, controller] = await Promise.all([
      deviceOutcome(t, "block-dev", credential),
      t.controller().listDevices().then(
        () => ({ code: "OK", message: "" }),
        (error) => RelayError.from(error),
      ),
    ]);
    assertBlocked(device.code, device.message, "device");
    assertBlocked(controller.code, controller.message, "controller");

    await sleep(400);
    assert.equal((await deviceOutcome(t, "block-dev", credential)).code, "OK");
    await assertStillServes(t);
  },
);
