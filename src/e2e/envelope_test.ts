import assert from "node:assert/strict";
import { RelayError } from "../errors/relay_error.ts";
import { generateDeviceKey } from "./device_key.ts";
import {
  envelopeKind,
  KEY_UNKNOWN_PROBE,
  openRequest,
  type RequestBinding,
  sealRequest,
} from "./envelope.ts";

const binding: RequestBinding = {
  deviceId: "dev-1",
  controllerId: "ops-1",
  method: "echo",
};
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytes = (value: string) => new TextEncoder().encode(value);

function rejected(code: string, pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof RelayError, String(error));
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  };
}

Deno.test("a request opens with the device key and its response with the request", async () => {
  const key = await generateDeviceKey();
  const sealed = await sealRequest(
    key.publicKey,
    binding,
    bytes("hello"),
    1234,
  );
  assert.equal(envelopeKind(sealed.envelope), "request");
  assert.ok(!text(sealed.envelope).includes("hello"));

  const opened = await openRequest(key, binding, sealed.envelope);
  assert.equal(text(opened.payload), "hello");
  assert.equal(opened.sealedAt, 1234);
  assert.equal(opened.enc.byteLength, 32);

  const response = await opened.sealResponse(bytes("world"));
  assert.equal(envelopeKind(response), "response");
  assert.ok(!text(response).includes("world"));
  assert.equal(text(await sealed.openResponse(response)), "world");
  // Every response has its own nonce.
  const again = await opened.sealResponse(bytes("world"));
  assert.notDeepEqual(again, response);
  assert.equal(text(await sealed.openResponse(again)), "world");
});

Deno.test("empty payloads round-trip", async () => {
  const key = await generateDeviceKey();
  const sealed = await sealRequest(key.publicKey, binding, new Uint8Array());
  const opened = await openRequest(key, binding, sealed.envelope);
  assert.equal(opened.payload.byteLength, 0);
  const response = await opened.sealResponse(new Uint8Array());
  assert.equal((await sealed.openResponse(response)).byteLength, 0);
});

Deno.test("every flipped byte of a request is detected", async () => {
  const key = await generateDeviceKey();
  const sealed = await sealRequest(key.publicKey, binding, bytes("payload"));
  for (let index = 0; index < sealed.envelope.byteLength; index++) {
    const tampered = sealed.envelope.slice();
    tampered[index]! ^= 0x01;
    await assert.rejects(
      openRequest(key, binding, tampered),
      rejected("INVALID_REQUEST", /^e2e: request rejected: /),
      `byte ${index}`,
    );
  }
  await assert.rejects(
    openRequest(key, binding, sealed.envelope.subarray(0, 40)),
    rejected("INVALID_REQUEST", /truncated/),
  );
});

Deno.test("a request is bound to device id, controller id and method", async () => {
  const key = await generateDeviceKey();
  const sealed = await sealRequest(key.publicKey, binding, bytes("x"));
  for (
    const other of [
      { ...binding, deviceId: "dev-2" },
      { ...binding, controllerId: "someone-else" },
      { ...binding, method: "reboot" },
      // Length prefixes: moving a character between fields changes the AAD.
      { ...binding, deviceId: "dev-1o", controllerId: "ps-1" },
    ]
  ) {
    await assert.rejects(
      openRequest(key, other, sealed.envelope),
      rejected("INVALID_REQUEST", /cannot decrypt/),
    );
  }
  const otherKey = await generateDeviceKey();
  await assert.rejects(
    openRequest(otherKey, binding, sealed.envelope),
    rejected("INVALID_REQUEST", /cannot decrypt/),
  );
});

Deno.test("a response opens only under the request it answers", async () => {
  const key = await generateDeviceKey();
  const first = await sealRequest(key.publicKey, binding, bytes("a"));
  const second = await sealRequest(key.publicKey, binding, bytes("b"));
  const opened = await openRequest(key, binding, first.envelope);
  const response = await opened.sealResponse(bytes("for the first"));
  await assert.rejects(
    second.openResponse(response),
    rejected("INTERNAL_ERROR", /^e2e: response rejected: tampered/),
  );
  for (let index = 0; index < response.byteLength; index++) {
    const tampered = response.slice();
    tampered[index]! ^= 0x80;
    await assert.rejects(
      first.openResponse(tampered),
      rejected("INTERNAL_ERROR", /^e2e: response rejected: /),
    );
  }
  await assert.rejects(
    first.openResponse(bytes("plaintext answer")),
    rejected("INTERNAL_ERROR", /not an encrypted response/),
  );
});

Deno.test("plaintext, the key-unknown probe and other versions are told apart", async () => {
  const key = await generateDeviceKey();
  assert.equal(envelopeKind(bytes("hello")), undefined);
  assert.equal(envelopeKind(new Uint8Array()), undefined);
  assert.equal(envelopeKind(KEY_UNKNOWN_PROBE), "key-unknown");
  await assert.rejects(
    openRequest(key, binding, KEY_UNKNOWN_PROBE),
    rejected("INVALID_REQUEST", /no public key for this device/),
  );
  await assert.rejects(
    openRequest(key, binding, bytes("hello")),
    rejected("INVALID_REQUEST", /not encrypted/),
  );
  const future = new Uint8Array([0x72, 0x45, 0x32, 0x45, 0x02, 0x01, 0, 0]);
  assert.equal(envelopeKind(future), "other");
  await assert.rejects(
    openRequest(key, binding, future),
    rejected("INVALID_REQUEST", /unsupported envelope version/),
  );
});
