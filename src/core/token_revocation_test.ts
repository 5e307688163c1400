import assert from "node:assert/strict";
import { hashToken } from "../auth/token_hash.ts";
import type { RelayError } from "../errors/relay_error.ts";
import { RelayStore } from "../store/relay_store.ts";
import { DeviceRegistry, type PresenceEvent } from "./device_registry.ts";
import type { DeviceLink } from "./links.ts";
import type { RevokeTokenRequest } from "./messages.ts";
import { RevocationTracker } from "./revocation_tracker.ts";
import { TokenRevocation } from "./token_revocation.ts";
import type { TunnelPort } from "./tunnel_port.ts";

const CONTROLLER_TOKEN = "eyJhbGciOiJIUzI1NiJ9.a-controller-token.signature";

function request(
  target: string,
  targetType: RevokeTokenRequest["target_type"] =
    "TOKEN_TARGET_TYPE_UNSPECIFIED",
): RevokeTokenRequest {
  return {
    admin_token: "",
    controller_id: "",
    target_token_hash_or_prefix: target,
    target_type: targetType,
    reason: "",
  };
}

/** Something with a close() that records how it was closed. */
function closable() {
  const closes: (RelayError | undefined)[] = [];
  return { closes, close: (error?: RelayError) => void closes.push(error) };
}

/** A device link that never sends anything and records its close. */
function deviceLink(): DeviceLink & { closes: (RelayError | undefined)[] } {
  const { closes, close } = closable();
  return {
    transport: "h2",
    remoteAddress: "192.0.2.7:4000",
    messages: {
      [Symbol.asyncIterator]: () => ({ next: () => new Promise(() => {}) }),
    },
    signal: new AbortController().signal,
    send: () => Promise.resolve(),
    close,
    closes,
  };
}

/** A store, a registry and a tracker for real; tunnels that count what they end. */
function setup() {
  const store = new RelayStore(":memory:");
  const events: PresenceEvent[] = [];
  const registry = new DeviceRegistry({
    suspectAfterMs: 60_000,
    offlineAfterMs: 120_000,
    resumeWindowMs: 60_000,
    maxPendingPerDevice: 8,
    maxDevices: 8,
    onEvent: (event) => events.push(event),
  });
  const tunnelsEnded: string[] = [];
  const tunnels: TunnelPort = {
    accept: () => Promise.resolve(),
    closeDevice: (deviceId) => {
      tunnelsEnded.push(deviceId);
      return 2;
    },
    closeAll: () => Promise.resolve(),
  };
  const streams = new RevocationTracker();
  const revocation = new TokenRevocation({ store, registry, tunnels, streams });
  return {
    store,
    registry,
    events,
    tunnelsEnded,
    streams,
    revocation,
    [Symbol.dispose]() {
      registry.close();
      store.close();
    },
  };
}

async function codeOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (error) {
    return (error as RelayError).code;
  }
  return "OK";
}

Deno.test("a controller token revoked by the whole token or its hash is listed and its streams closed", async () => {
  using t = setup();
  const hash = hashToken(CONTROLLER_TOKEN);
  for (const target of [CONTROLLER_TOKEN, hash]) {
    const stream = closable();
    t.streams.track({ tokenHash: hash, jti: "" }, stream);
    assert.deepEqual(await t.revocation.revoke(request(target, "CONTROLLER")), {
      revokedKey: `sha256:${hash.slice(0, 12)}`,
      closed: 1,
    });
    assert.equal(stream.closes[0]?.code, "UNAUTHORIZED");
    assert.equal(stream.closes[0]?.message, "controller token revoked");
    t.streams.untrack(stream);
  }
  assert.ok(t.store.isTokenRevoked(hash));
});

Deno.test("a controller token revoked by jti: every stream that used that jti", async () => {
  using t = setup();
  const streams = [closable(), closable(), closable()];
  t.streams.track({ tokenHash: "1".repeat(64), jti: "op-7" }, streams[0]!);
  t.streams.track({ tokenHash: "2".repeat(64), jti: "op-7" }, streams[1]!);
  t.streams.track({ tokenHash: "3".repeat(64), jti: "op-8" }, streams[2]!);
  assert.deepEqual(await t.revocation.revoke(request("jti:op-7")), {
    revokedKey: "jti:op-7",
    closed: 2,
  });
  assert.deepEqual(streams.map((s) => s.closes.length), [1, 1, 0]);
  assert.ok(t.store.isJtiRevoked("op-7"));
  assert.ok(!t.store.isJtiRevoked("op-8"));
});

Deno.test("a device credential: revoked, its session evicted and its tunnels ended", async () => {
  using t = setup();
  const credential = t.store.registerDevice("dev-1", "default");
  const link = deviceLink();
  t.registry.register({
    deviceId: "dev-1",
    project: "default",
    link,
    metadata: {},
    previousConnectionId: "",
  });
  // One device stream and two tunnels.
  assert.equal(
    (await t.revocation.revoke(request(credential, "DEVICE"))).closed,
    3,
  );
  assert.equal(link.closes[0]?.message, "device credential revoked");
  assert.deepEqual(t.tunnelsEnded, ["dev-1"]);
  assert.equal(t.registry.get("dev-1"), undefined);
  assert.ok(
    t.events.some((event) =>
      event.type === "offline" && event.reason === "revoked"
    ),
  );
  assert.equal(t.store.verifyDeviceCredential("dev-1", credential), undefined);
  assert.ok(t.store.isTokenRevoked(hashToken(credential)));
  // Revoked already: nothing matches any more.
  assert.equal(
    await codeOf(() => t.revocation.revoke(request(credential, "DEVICE"))),
    "DEVICE_NOT_FOUND",
  );
});

Deno.test("an unspecified target type revokes a device credential and the same hash as a controller token", async () => {
  using t = setup();
  const credential = t.store.registerDevice("dev-2", "default");
  const stream = closable();
  t.streams.track({ tokenHash: hashToken(credential), jti: "" }, stream);
  // Offline device: no session, the tunnels stub ends two, plus the stream.
  assert.equal(
    (await t.revocation.revoke(request(hashToken(credential)))).closed,
    3,
  );
  assert.equal(t.store.verifyDeviceCredential("dev-2", credential), undefined);
  assert.equal(stream.closes.length, 1);
});

Deno.test("refused: prefixes, bad jtis, a jti for a device, an unknown device credential", async () => {
  using t = setup();
  const refusals: [RevokeTokenRequest, string][] = [
    [request(hashToken(CONTROLLER_TOKEN).slice(0, 31)), "INVALID_REQUEST"],
    [request("rdc_short"), "INVALID_REQUEST"],
    [request("jti:"), "INVALID_REQUEST"],
    [request(`jti:${"j".repeat(257)}`), "INVALID_REQUEST"],
    [request("jti:op-1", "DEVICE"), "INVALID_REQUEST"],
    [request(CONTROLLER_TOKEN, "DEVICE"), "DEVICE_NOT_FOUND"],
  ];
  for (const [refused, code] of refusals) {
    assert.equal(
      await codeOf(() => t.revocation.revoke(refused)),
      code,
      refused.target_token_hash_or_prefix.slice(0, 40),
    );
  }
  assert.ok(!t.store.isJtiRevoked("op-1"));
  assert.ok(!t.store.isTokenRevoked(hashToken(CONTROLLER_TOKEN)));
  // The longest jti is fine.
  assert.equal(
    (await t.revocation.revoke(request(`jti:${"j".repeat(256)}`))).closed,
    0,
  );
});
