// Hostile input around revocation: a revoked controller token (by the whole
// token, its jti or its SHA-256) loses its open streams within a second and
// every new one; prefixes are refused; a revoked device credential is cut
// off and cannot register again; revocations survive a restart.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { RelayError } from "../../src/errors/relay_error.ts";
import {
  decode,
  encode,
  startTestRelay,
  type TestRelay,
  TRANSPORTS,
} from "../harness.ts";
import { rawDevice, readUntilClosed } from "../raw_device.ts";
import { withDeadline } from "../with_deadline.ts";
import { jtiOf } from "./forged_tokens.ts";
import { hostileTest, PLAINTEXT } from "./hostile_case.ts";
import { rawController } from "./raw_controller.ts";
import { assertStillServes } from "./still_serves.ts";
import { assertTokenAccepted, assertTokenRefused } from "./token_outcomes.ts";

const sha256 = (text: string) =>
  createHash("sha256").update(text).digest("hex");

const TARGET_FORMS = {
  "the whole token": (token: string) => token,
  "its jti": (token: string) => `jti:${jtiOf(token)}`,
  "its SHA-256 hex": (token: string) => sha256(token),
} as const;

for (const [form, target] of Object.entries(TARGET_FORMS)) {
  hostileTest(
    `revocation: a controller token revoked by ${form} loses its open stream within 1 s and every new one`,
    {},
    async (t) => {
      await t.device("rev-dev");
      const operator = await t.token("operator", {
        id: "rev-op",
        projects: ["default"],
      });
      const bystander = await t.token("operator", {
        id: "rev-bystander",
        projects: ["default"],
      });
      const open = rawController(t, operator);
      try {
        await open.send({
          target_device_id: "rev-dev",
          sequence_number: 1,
          encrypted_payload: encode("before"),
        });
        assert.equal((await open.next())?.error, "OK");
        const other = t.controller(bystander, PLAINTEXT).openSession("rev-dev");
        assert.equal(decode(await other.call("echo", encode("a"))), "a");

        const revoked = await t.controller().revokeToken({
          token: target(operator),
          targetType: "CONTROLLER",
          reason: "hostile suite",
        });
        const started = performance.now();
        assert.deepEqual(revoked, { revoked: true, closedStreams: 1 });
        const reason = await open.closeReason(1000);
        const elapsed = performance.now() - started;
        assert.equal(reason?.code, "UNAUTHORIZED", "the open stream's close");
        assert.match(reason?.message ?? "", /revoked/);
        assert.ok(elapsed < 1000, `stream closed after ${elapsed} ms`);

        await assertTokenRefused(t, operator, "rev-dev", /revoked/);
        // Another controller's stream is untouched.
        assert.equal(decode(await other.call("echo", encode("b"))), "b");
      } finally {
        open.close();
      }
      await assertStillServes(t);
    },
  );
}

hostileTest(
  "revocation: a token prefix is refused with INVALID_REQUEST and revokes nothing",
  {},
  async (t) => {
    await t.device("rev-dev");
    const operator = await t.token("operator", {
      id: "rev-op",
      projects: ["default"],
    });
    for (const prefix of [operator.slice(0, 8), sha256(operator).slice(0, 8)]) {
      await assert.rejects(
        t.controller().revokeToken({ token: prefix, targetType: "CONTROLLER" }),
        (error: RelayError) =>
          error.code === "INVALID_REQUEST" && /prefix/.test(error.message),
      );
    }
    await assert.rejects(
      t.controller(operator).revokeToken({ token: operator }),
      (error: RelayError) => error.code === "PERMISSION_DENIED",
      "only admins may revoke",
    );
    await assertTokenAccepted(t, operator, "rev-dev");
    await assertStillServes(t);
  },
);

/** Reads a raw device stream to its end; the error it was closed with, if any. */
const deviceCloseReason = (device: Awaited<ReturnType<typeof rawDevice>>) =>
  withDeadline(
    readUntilClosed(device).then(() => undefined, (error: RelayError) => error),
    1000,
    "the relay to close the revoked device's stream",
  );

hostileTest(
  "revocation: a revoked device credential closes the device's stream and cannot register again",
  {},
  async (t) => {
    const credential = t.registerDevice("rev-device");
    const device = await rawDevice(t, "rev-device", credential);
    try {
      assert.ok(device.first.register_response, "registered");
      const revoked = await t.controller().revokeToken({
        token: credential,
        targetType: "DEVICE",
      });
      assert.deepEqual(revoked, { revoked: true, closedStreams: 1 });
      const reason = await deviceCloseReason(device);
      assert.equal(reason?.code, "UNAUTHORIZED");
      assert.match(reason?.message ?? "", /revoked/);
    } finally {
      device.drop();
    }
    const again = await rawDevice(t, "rev-device", credential);
    try {
      assert.ok(!again.first.register_response, "not registered");
      assert.equal(again.first.error?.code, "UNAUTHORIZED");
      assert.match(again.first.error?.message ?? "", /credential/);
    } finally {
      again.drop();
    }
    const online = (await t.controller().listDevices()).map((d) => d.device_id);
    assert.ok(!online.includes("rev-device"));
    await assertStillServes(t);
  },
);

/** Two relays on one state directory, one after the other. */
async function acrossRestart(
  transport: typeof TRANSPORTS[number],
  before: (t: TestRelay) => Promise<void>,
  after: (t: TestRelay) => Promise<void>,
): Promise<void> {
  const stateDir = await Deno.makeTempDir({ prefix: "relay-hostile-restart-" });
  try {
    for (const phase of [before, after]) {
      const t = await startTestRelay({ stateDir, transport });
      try {
        await withDeadline(phase(t), 8000, "a restart phase");
      } finally {
        await t.close();
      }
    }
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
}

for (const transport of TRANSPORTS) {
  Deno.test(
    `hostile: revocation of a controller token and a device credential survives a relay restart [${transport}]`,
    async () => {
      let operator = "";
      let credential = "";
      await acrossRestart(transport, async (t) => {
        operator = await t.token("operator", {
          id: "restart-op",
          projects: ["default"],
        });
        credential = t.registerDevice("restart-dev");
        await t.controller().revokeToken({
          token: operator,
          targetType: "CONTROLLER",
        });
        await t.controller().revokeToken({
          token: credential,
          targetType: "DEVICE",
        });
      }, async (t) => {
        await t.device("restart-target");
        await assertTokenRefused(t, operator, "restart-target", /revoked/);
        const device = await rawDevice(t, "restart-dev", credential);
        try {
          assert.equal(device.first.error?.code, "UNAUTHORIZED");
        } finally {
          device.drop();
        }
        await assertStillServes(t);
      });
    },
  );

  Deno.test(
    `hostile: revocation by jti survives a relay restart [${transport}]`,
    async () => {
      let operator = "";
      await acrossRestart(transport, async (t) => {
        operator = await t.token("operator", {
          id: "restart-jti",
          projects: ["default"],
        });
        await t.controller().revokeToken({
          token: `jti:${jtiOf(operator)}`,
          targetType: "CONTROLLER",
        });
      }, async (t) => {
        await t.device("restart-target");
        await assertTokenRefused(t, operator, "restart-target", /revoked/);
        await assertStillServes(t);
      });
    },
  );
}
