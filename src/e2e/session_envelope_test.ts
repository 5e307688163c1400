import assert from "node:assert/strict";
import { generateDeviceKey } from "./device_key.ts";
import { utf8 } from "./hpke_suite.ts";
import {
  parseSessionRequest,
  ReceiverSession,
  SenderSession,
  sessionEnvelopeKind,
} from "./session_envelope.ts";

const binding = { deviceId: "dev-1", controllerId: "ctl-1" };
const text = new TextDecoder();

async function pair() {
  const device = await generateDeviceKey();
  const controller = await generateDeviceKey();
  const sender = await SenderSession.create(
    device.publicKey,
    controller,
    binding,
  );
  return { device, controller, sender };
}

Deno.test("session requests open in any order with one setup, and their answers open", async () => {
  const { device, sender } = await pair();
  const sealed = [];
  for (let i = 0; i < 5; i++) {
    sealed.push(await sender.seal("echo", utf8(`request ${i}`)));
  }
  assert.deepEqual(sealed.map((s) => s.counter), [1n, 2n, 3n, 4n, 5n]);
  const head = parseSessionRequest(sealed[3]!.envelope);
  const session = await ReceiverSession.accept(device, binding, head);
  for (const request of sealed.toReversed()) {
    assert.equal(sessionEnvelopeKind(request.envelope), "request");
    const { counter } = parseSessionRequest(request.envelope);
    const payload = await session.open(request.envelope, "echo", counter);
    const answer = await session.sealResponse(
      counter,
      utf8("re: " + text.decode(payload)),
    );
    assert.equal(
      text.decode(await request.openResponse(answer)),
      `re: request ${Number(counter) - 1}`,
    );
  }
});

Deno.test("a session refuses what was changed on the way, and answers open only for their request", async () => {
  const { device, controller, sender } = await pair();
  const first = await sender.seal("echo", utf8("one"));
  const second = await sender.seal("echo", utf8("two"));
  const head = parseSessionRequest(first.envelope);
  const session = await ReceiverSession.accept(device, binding, head);
  // Another method name (the relay rewrote it).
  assert.throws(
    () => session.open(first.envelope, "reboot", head.counter),
    /e2e: request rejected: cannot decrypt/,
  );
  // A flipped ciphertext byte.
  const tampered = first.envelope.slice();
  tampered[tampered.length - 1]! ^= 1;
  assert.throws(
    () => session.open(tampered, "echo", head.counter),
    /cannot decrypt/,
  );
  // Addressed to another device, or claimed by another controller id.
  await assert.rejects(
    ReceiverSession.accept(device, { ...binding, deviceId: "dev-2" }, head)
      .then((other) => other.open(first.envelope, "echo", head.counter)),
    /cannot decrypt/,
  );
  // A key the controller does not hold, named as the sender: the relay
  // playing controller with its own session cannot borrow another's key.
  const relayKey = await generateDeviceKey();
  const forged = await SenderSession.create(
    device.publicKey,
    relayKey,
    binding,
  );
  const injected = (await forged.seal("echo", utf8("evil"))).envelope;
  injected.set(controller.publicKey, 38); // claim the real controller's key
  const forgedHead = parseSessionRequest(injected);
  await assert.rejects(
    ReceiverSession.accept(device, binding, forgedHead)
      .then((other) => other.open(injected, "echo", forgedHead.counter)),
    /cannot decrypt/,
  );
  // The answer to request 2 does not open as the answer to request 1.
  const answer = await session.sealResponse(2n, utf8("two back"));
  await assert.rejects(first.openResponse(answer), /answers another request/);
  assert.equal(text.decode(await second.openResponse(answer)), "two back");
});
