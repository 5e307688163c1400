import assert from "node:assert/strict";
import { buildConfig } from "../config/load_config.ts";
import { RelayError } from "../errors/relay_error.ts";
import type { AuditLogger, AuditRecord } from "../observability/audit_log.ts";
import { Logger } from "../observability/logger.ts";
import { RelayMetrics } from "../observability/relay_metrics.ts";
import {
  deviceHandshake,
  type DeviceHandshakeDeps,
  type DeviceHandshakeKind,
} from "./device_handshake.ts";
import { Gatekeeper, type Peer } from "./gatekeeper.ts";

const CREDENTIAL = "rdc_test";
const peer: Peer = { remoteAddress: "192.0.2.7:4000", transport: "quic" };

/** A first message of the test's own shape. */
interface Hello {
  kind: string;
  id: string;
  token: string;
}

function setup(
  options: { draining?: boolean; timeoutMs?: number; maxFailures?: number } =
    {},
) {
  const audit: AuditRecord[] = [];
  const auditLog: AuditLogger = {
    dropped: 0,
    log: (record) => void audit.push(record),
    flush: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  const config = buildConfig({}, {}, {
    relay: {
      auth: { max_failures_per_address: options.maxFailures ?? 20 },
    },
  });
  const metrics = new RelayMetrics();
  const logger = new Logger({ write: () => undefined });
  const deps: DeviceHandshakeDeps = {
    gate: new Gatekeeper({ config, audit: auditLog, metrics, logger }),
    verifyCredential: (deviceId, credential) =>
      credential === CREDENTIAL
        ? { deviceId, project: "default", createdAt: 0, revokedAt: null }
        : undefined,
    logger,
    handshakeTimeoutMs: options.timeoutMs ?? 1000,
    isDraining: () => options.draining ?? false,
  };
  const refused: RelayError[] = [];
  const kind: DeviceHandshakeKind<Hello> = {
    stream: "test",
    expected: "hello message",
    claim: (first) => {
      if (first.kind !== "hello") {
        throw new RelayError("INVALID_REQUEST", "first message must be hello");
      }
      return { deviceId: first.id, credential: first.token };
    },
    onRefused: (error) => void refused.push(error),
  };
  const handshake = (inbound: AsyncIterator<Hello>) =>
    deviceHandshake(peer, inbound, deps, kind);
  return { audit, refused, handshake };
}

function messages(...list: Hello[]): AsyncIterator<Hello> {
  return (async function* () {
    yield* list;
  })();
}

/** An inbound stream that says nothing and ends when `stop` is called. */
function silent(): { inbound: AsyncIterator<Hello>; stop: () => void } {
  const { promise, resolve } = Promise.withResolvers<void>();
  return {
    inbound: {
      next: () => promise.then(() => ({ done: true, value: undefined })),
    },
    stop: resolve,
  };
}

const hello = (id: string, token = CREDENTIAL): Hello => ({
  kind: "hello",
  id,
  token,
});

const codeOf = (promise: Promise<unknown>) =>
  promise.then(() => "resolved", (error: RelayError) => error.code);

Deno.test("a valid claim is authenticated with the device's record and its first message", async () => {
  const t = setup();
  const result = await t.handshake(messages(hello("dev-1")));
  assert.equal(result?.deviceId, "dev-1");
  assert.equal(result?.credential, CREDENTIAL);
  assert.equal(result?.record.project, "default");
  assert.deepEqual(result?.first, hello("dev-1"));
  assert.deepEqual(t.refused, []);
  // Success is audited by the stream once it is admitted, not here.
  assert.deepEqual(t.audit, []);
});

Deno.test("a stream that ends before its first message is no device", async () => {
  const t = setup();
  assert.equal(await t.handshake(messages()), undefined);
  assert.deepEqual(t.refused, []);
});

Deno.test("a wrong first message, device id or credential is refused, told and audited", async () => {
  const t = setup();
  assert.equal(
    await codeOf(t.handshake(messages({ kind: "data", id: "", token: "" }))),
    "INVALID_REQUEST",
  );
  assert.equal(
    await codeOf(t.handshake(messages(hello("-bad id")))),
    "INVALID_REQUEST",
  );
  assert.equal(
    await codeOf(t.handshake(messages(hello("dev-1", "rdc_wrong")))),
    "UNAUTHORIZED",
  );
  assert.deepEqual(t.refused.map((e) => e.code), [
    "INVALID_REQUEST",
    "INVALID_REQUEST",
    "UNAUTHORIZED",
  ]);
  const failure = t.audit.find((r) => r.event === "auth_failure");
  assert.equal(failure?.principal, "device:dev-1");
  assert.match(failure?.reason ?? "", /invalid or revoked device credential/);
});

Deno.test("a draining relay refuses with UNAVAILABLE, which is no refused claim", async () => {
  const t = setup({ draining: true });
  assert.equal(
    await codeOf(t.handshake(messages(hello("dev-1")))),
    "UNAVAILABLE",
  );
  assert.deepEqual(t.refused, []);
});

Deno.test("no first message within the handshake timeout: UNAUTHORIZED, audited", async () => {
  const t = setup({ timeoutMs: 20 });
  const stream = silent();
  try {
    await assert.rejects(
      t.handshake(stream.inbound),
      (error: RelayError) =>
        error.code === "UNAUTHORIZED" &&
        error.message === "no hello message within the handshake timeout",
    );
  } finally {
    stream.stop();
  }
  assert.deepEqual(t.refused, []);
  const record = t.audit.find((r) => r.event === "auth_failure");
  assert.equal(record?.reason, "no hello message within the handshake timeout");
});

Deno.test("an address blocked after repeated failures is refused before it says anything", async () => {
  const t = setup({ maxFailures: 2 });
  for (let i = 0; i < 2; i++) {
    await codeOf(t.handshake(messages(hello("dev-1", "rdc_wrong"))));
  }
  const stream = silent();
  try {
    assert.equal(await codeOf(t.handshake(stream.inbound)), "RATE_LIMITED");
  } finally {
    stream.stop();
  }
  assert.ok(t.audit.some((r) => r.event === "connection_refused"));
});
