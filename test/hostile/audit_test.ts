// The audit trail of hostile input: <stateDir>/audit.log gets one JSON line
// per security event (auth_success, auth_failure, access_denied,
// token_revoked, rate_limited, device_connected, device_disconnected,
// connection_refused) with time, event, source, transport, principal,
// reason and code, and never a raw token, credential or payload.
import assert from "node:assert/strict";
import type { RelayError } from "../../src/errors/relay_error.ts";
import { encode } from "../harness.ts";
import { rawDevice } from "../raw_device.ts";
import { assertAuditClean, expectAudit, principal } from "./audit_log.ts";
import { claims, hs256 } from "./forged_tokens.ts";
import { hostileTest, PLAINTEXT, sleep } from "./hostile_case.ts";
import { rawController } from "./raw_controller.ts";
import { assertStillServes } from "./still_serves.ts";

const LOOPBACK = /127\.0\.0\.1/;

/** A token and its signature: neither may appear in the audit log. */
const tokenSecrets = (name: string, token: string) => ({
  [name]: token,
  [`${name} signature`]: token.split(".")[2] ?? token,
});

const marker = () => `payload-marker-${crypto.randomUUID()}`;

hostileTest(
  "audit: auth_failure and auth_success for controllers, without tokens or payloads",
  {},
  async (t) => {
    await t.device("audit-dev");
    const forged = await hs256("guessed", claims({ sub: "audit-forger" }));
    await assert.rejects(t.controller(forged).listDevices());
    await expectAudit(t, "auth_failure", {
      code: "UNAUTHORIZED",
      transport: t.transport,
      source: LOOPBACK,
      reason: /./,
    });

    const operator = await t.token("operator", {
      id: "audit-op",
      projects: ["default"],
    });
    const payload = marker();
    await t.controller(operator, PLAINTEXT).call(
      "audit-dev",
      "echo",
      encode(payload),
    );
    await expectAudit(t, "auth_success", {
      principal: principal("audit-op"),
      transport: t.transport,
      source: LOOPBACK,
    });
    await assertAuditClean(t, {
      ...tokenSecrets("forged token", forged),
      ...tokenSecrets("operator token", operator),
      ...tokenSecrets("admin token", t.relay.adminToken),
      payload,
    });
    await assertStillServes(t);
  },
);

hostileTest(
  "audit: device_connected, device_disconnected and a device auth_failure, without credentials",
  {},
  async (t) => {
    const credential = t.registerDevice("audit-dev");
    const wrong = `rdc_wrong_${crypto.randomUUID()}`;
    const refused = await rawDevice(t, "audit-dev", wrong);
    refused.drop();
    const failure = await expectAudit(t, "auth_failure", {
      code: "UNAUTHORIZED",
      transport: t.transport,
      source: LOOPBACK,
    });
    assert.ok(
      principal("audit-dev").test(failure.principal) ||
        failure.device_id === "audit-dev",
      `the failure names the device: ${JSON.stringify(failure)}`,
    );
    const agent = await t.device("audit-dev", { token: credential });
    await expectAudit(t, "device_connected", {
      principal: principal("audit-dev"),
      transport: t.transport,
      source: LOOPBACK,
    });
    await agent.close();
    await expectAudit(t, "device_disconnected", {
      principal: principal("audit-dev"),
    });
    await assertAuditClean(t, {
      credential,
      "wrong credential": wrong,
    });
    await assertStillServes(t);
  },
);

hostileTest(
  "audit: access_denied for a viewer sending and an operator outside its projects",
  {},
  async (t) => {
    await t.device("audit-dev");
    const viewer = await t.token("viewer", {
      id: "audit-viewer",
      projects: ["default"],
    });
    const outsider = await t.token("operator", {
      id: "audit-outsider",
      projects: ["elsewhere"],
    });
    const payload = marker();
    const denied = await t.controller(viewer, PLAINTEXT).openSession(
      "audit-dev",
    ).request(
      "echo",
      encode(payload),
    );
    assert.equal(denied.error, "PERMISSION_DENIED");
    const hidden = await t.controller(outsider, PLAINTEXT).openSession(
      "audit-dev",
    )
      .request("echo", encode(payload));
    assert.equal(hidden.error, "UNAUTHORIZED");
    await expectAudit(t, "access_denied", {
      principal: principal("audit-viewer"),
      code: "PERMISSION_DENIED",
      transport: t.transport,
    });
    await expectAudit(t, "access_denied", {
      principal: principal("audit-outsider"),
      code: "UNAUTHORIZED",
      transport: t.transport,
    });
    await assertAuditClean(t, {
      ...tokenSecrets("viewer token", viewer),
      ...tokenSecrets("outsider token", outsider),
      payload,
    });
    await assertStillServes(t);
  },
);

hostileTest(
  "audit: token_revoked names the admin, never the revoked token or credential",
  {},
  async (t) => {
    const operator = await t.token("operator", {
      id: "audit-revoked",
      projects: ["default"],
    });
    const credential = t.registerDevice("audit-revoked-dev");
    await t.controller().revokeToken({
      token: operator,
      targetType: "CONTROLLER",
      reason: "audit test",
    });
    await t.controller().revokeToken({
      token: credential,
      targetType: "DEVICE",
    });
    const revoked = await expectAudit(t, "token_revoked", {
      principal: principal("admin"),
      transport: t.transport,
    });
    assert.ok(revoked.reason !== undefined, "the revocation carries a reason");
    await assert.rejects(
      t.controller(operator).listDevices(),
      (error: RelayError) => error.code === "UNAUTHORIZED",
    );
    await expectAudit(t, "auth_failure", { code: "UNAUTHORIZED" });
    await assertAuditClean(t, {
      ...tokenSecrets("revoked token", operator),
      credential,
    });
    await assertStillServes(t);
  },
);

hostileTest(
  "audit: rate_limited for a request flood",
  {
    config: {
      "relay.rate_limits.requests.controller": { per_second: 1, burst: 2 },
    },
  },
  async (t) => {
    await t.device("audit-dev");
    const flooder = await t.token("operator", {
      id: "audit-flood",
      projects: ["default"],
    });
    const payload = marker();
    const stream = rawController(t, flooder);
    try {
      for (let sequence = 1; sequence <= 5; sequence++) {
        await stream.send({
          target_device_id: "audit-dev",
          sequence_number: sequence,
          encrypted_payload: encode(payload),
        });
      }
      const answers = await stream.take(5);
      assert.ok(
        answers.some((a) => a.error === "RATE_LIMITED"),
        `the flood was rate limited: ${answers.map((a) => a.error)}`,
      );
    } finally {
      stream.close();
    }
    await expectAudit(t, "rate_limited", {
      principal: principal("audit-flood"),
      code: "RATE_LIMITED",
      transport: t.transport,
    });
    await assertAuditClean(t, {
      ...tokenSecrets("flooder token", flooder),
      payload,
    });
    await assertStillServes(t);
  },
);

hostileTest(
  "audit: connection_refused for an address blocked after repeated failures",
  {
    config: {
      "relay.auth.max_failures_per_address": 3,
      "relay.auth.failure_window_seconds": 5,
      "relay.auth.block_seconds": 0.3,
    },
  },
  async (t) => {
    const forged = await hs256("guessed", claims({ sub: "audit-guesser" }));
    for (let i = 0; i < 4; i++) {
      await assert.rejects(t.controller(forged).listDevices());
    }
    await expectAudit(t, "auth_failure", { source: LOOPBACK });
    await expectAudit(t, "connection_refused", {
      source: LOOPBACK,
      transport: t.transport,
      reason: /too many|block/i,
    });
    await assertAuditClean(t, tokenSecrets("forged token", forged));
    await sleep(400); // block_seconds
    await assertStillServes(t);
  },
);
