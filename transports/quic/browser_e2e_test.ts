// The browser client's end-to-end modules (plain JS, run here by Deno, which
// maps @hpke/core as the demo page's import map does) against the SDK's
// implementation of the same envelope (src/e2e/session_envelope.ts).
import assert from "node:assert/strict";
import { generateDeviceKey } from "../../src/e2e/device_key.ts";
import { fingerprint, toBase64Url, utf8 } from "../../src/e2e/hpke_suite.ts";
import {
  parseSessionRequest,
  ReceiverSession,
  sessionEnvelopeKind,
} from "../../src/e2e/session_envelope.ts";
import {
  controllerKeyFrom,
  generateControllerKey,
  SenderSession,
} from "./browser/e2e_session.js";
import {
  ControllerE2e,
  controllerIdFromToken,
  MemoryKnownKeys,
} from "./browser/e2e_controller.js";

const binding = { deviceId: "dev-1", controllerId: "ctl-1" };
const text = new TextDecoder();

Deno.test("requests the browser module seals open with the SDK's device end, and its answers open in the browser module", async () => {
  const device = await generateDeviceKey();
  const controller = await generateControllerKey();
  assert.equal(controller.fingerprint, await fingerprint(controller.publicKey));
  const sender = await SenderSession.create(
    device.publicKey,
    controller,
    binding,
  );
  const sealed = [];
  for (let i = 0; i < 3; i++) {
    sealed.push(await sender.seal("echo", utf8(`request ${i}`)));
  }
  assert.deepEqual(sealed.map((s) => s.counter), [1n, 2n, 3n]);
  let session: ReceiverSession | undefined;
  for (const request of sealed.toReversed()) {
    assert.equal(sessionEnvelopeKind(request.envelope), "request");
    const head = parseSessionRequest(request.envelope);
    assert.equal(
      toBase64Url(head.controllerPublicKey),
      toBase64Url(controller.publicKey),
    );
    assert.equal(head.createdAt, sender.createdAt);
    session ??= await ReceiverSession.accept(device, binding, head);
    const payload = await session.open(request.envelope, "echo", head.counter);
    const answer = await session.sealResponse(
      head.counter,
      utf8("re: " + text.decode(payload)),
    );
    assert.equal(
      text.decode(await request.openResponse(answer)),
      `re: request ${Number(head.counter) - 1}`,
    );
  }
  // An answer opens only for its own request.
  const head = parseSessionRequest(sealed[0]!.envelope);
  const answer = await session!.sealResponse(head.counter, utf8("first"));
  await assert.rejects(sealed[1]!.openResponse(answer), {
    code: "INTERNAL_ERROR",
    message: /answers another request/,
  });
});

Deno.test("a browser-sealed request opens only for its device, controller id and method", async () => {
  const device = await generateDeviceKey();
  const controller = await controllerKeyFrom(await generateDeviceKey());
  const sender = await SenderSession.create(
    device.publicKey,
    controller,
    binding,
  );
  const { envelope } = await sender.seal("open-door", utf8("1"));
  const head = parseSessionRequest(envelope);
  const other = await ReceiverSession.accept(
    device,
    { ...binding, controllerId: "someone-else" },
    head,
  );
  assert.throws(() => other.open(envelope, "open-door", head.counter));
  const right = await ReceiverSession.accept(device, binding, head);
  assert.throws(() => right.open(envelope, "close-door", head.counter));
  assert.equal(
    text.decode(await right.open(envelope, "open-door", head.counter)),
    "1",
  );
});

Deno.test("the browser controller pins device keys as the CLI does: pins, trust on first use, changed keys refused", async () => {
  const first = await generateDeviceKey();
  const second = await generateDeviceKey();
  const devices = [{
    device_id: "dev-1",
    metadata: {
      "e2e.x25519": toBase64Url(first.publicKey),
      "e2e.versions": "1,2",
    },
  }, {
    device_id: "old",
    metadata: { "e2e.x25519": toBase64Url(first.publicKey) },
  }, { device_id: "bare", metadata: {} }];
  const known = new MemoryKnownKeys();
  const firstUse: string[] = [];
  const e2e = (options = {}) =>
    new ControllerE2e(
      { knownKeys: known, onFirstUse: (id) => firstUse.push(id), ...options },
      "x.eyJzdWIiOiJjdGwtMSJ9.x",
      () => Promise.resolve(devices),
    );

  const tofu = e2e();
  assert.equal(tofu.controllerId(), "ctl-1");
  assert.equal((await tofu.deviceKey("dev-1")).fingerprint, first.fingerprint);
  assert.deepEqual(firstUse, ["dev-1"]);
  assert.equal(known.get("dev-1"), first.fingerprint);
  assert.equal(await tofu.deviceKey("missing"), undefined);

  // The device's key changes: refused, naming both fingerprints.
  devices[0]!.metadata["e2e.x25519"] = toBase64Url(second.publicKey);
  await assert.rejects(e2e().deviceKey("dev-1"), (error: Error) => {
    assert.equal((error as Error & { code: string }).code, "UNAUTHORIZED");
    assert.ok(error.message.includes(first.fingerprint));
    assert.ok(error.message.includes(second.fingerprint));
    return true;
  });
  // A pin wins over the known key; a pin that does not match is refused.
  const pinned = e2e({ pins: { "dev-1": second.fingerprint } });
  assert.equal(
    (await pinned.deviceKey("dev-1")).fingerprint,
    second.fingerprint,
  );
  await assert.rejects(
    e2e({ pins: { "dev-1": first.fingerprint } }).deviceKey("dev-1"),
    { code: "UNAUTHORIZED", message: /is pinned/ },
  );
  assert.throws(() => e2e({ pins: { "dev-1": "SHA256:nope" } }), {
    code: "INVALID_REQUEST",
  });

  // No version 2, or no key: refused unless plaintext is allowed.
  await assert.rejects(tofu.deviceKey("old"), {
    code: "INVALID_REQUEST",
    message: /does not open envelope version 2.*refusing to send it plaintext/,
  });
  await assert.rejects(tofu.deviceKey("bare"), {
    message: /advertises no encryption key/,
  });
  assert.deepEqual(await e2e({ plaintext: true }).deviceKey("bare"), {
    plaintext: true,
  });
});

Deno.test("the controller id is the token's sub", () => {
  const payload = toBase64Url(
    utf8(JSON.stringify({ sub: "op-é", role: "operator" })),
  );
  assert.equal(controllerIdFromToken(`h.${payload}.s`), "op-é");
  assert.throws(() => controllerIdFromToken("not-a-jwt"), {
    code: "INVALID_REQUEST",
    message: /pass controllerId/,
  });
});

Deno.test("a device session's envelope session is kept for 60 s, then renewed; a stale-session refusal renews it at once", async () => {
  const device = await generateDeviceKey();
  const e2e = new ControllerE2e(
    { knownKeys: new MemoryKnownKeys(), controllerId: "ctl-1" },
    "",
    () =>
      Promise.resolve([{
        device_id: "dev-1",
        metadata: {
          "e2e.x25519": toBase64Url(device.publicKey),
          "e2e.versions": "1,2",
        },
      }]),
  );
  const session = e2e.session("dev-1");
  const enc = async () =>
    toBase64Url(
      parseSessionRequest(
        (await session.prepare("echo", utf8("x"))).payload,
      ).enc,
    );
  const realNow = Date.now;
  let offset = 0;
  Date.now = () => realNow() + offset;
  try {
    const first = await enc();
    assert.equal(await enc(), first);
    offset = 61_000;
    const renewed = await enc();
    assert.notEqual(renewed, first);
    assert.equal(await enc(), renewed);
    // The device refuses the session as stale: the next request is in a new one.
    const prepared = await session.prepare("echo", utf8("x"));
    await assert.rejects(
      prepared.open({
        error: "INVALID_REQUEST",
        error_message:
          "e2e: request rejected: stale session (...); the controller starts a new one",
      }),
      { code: "INVALID_REQUEST" },
    );
    assert.notEqual(await enc(), renewed);
  } finally {
    Date.now = realNow;
  }
});
