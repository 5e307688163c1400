// Sender authentication, with the relay playing the compromised party: a
// device that trusts only its controller's key serves that controller's
// session requests, and refuses what the relay itself can send it: a request
// it seals with its own key (it knows the device's public key), the same
// with the trusted controller's key named as the sender, a captured request
// replayed or re-addressed, and an unauthenticated version 1 envelope.
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import { ControllerClient, controllerConnector } from "../mod.ts";
import { generateDeviceKey } from "../src/e2e/device_key.ts";
import { sealRequest } from "../src/e2e/envelope.ts";
import {
  SenderSession,
  sessionEnvelopeKind,
} from "../src/e2e/session_envelope.ts";
import type {
  ControllerMessage,
  DeviceResponse,
} from "../src/sdk/connector.ts";
import type { DeviceRequest } from "../src/sdk/device_agent.ts";
import { contractTest, decode, encode } from "./harness.ts";
import { newTap, tapControllerConnector } from "./stream_tap.ts";

contractTest(
  "a device that trusts only its controller's key refuses what a compromised relay injects",
  {},
  async (t) => {
    const controllerKey = await generateDeviceKey();
    const controllerId = decodeJwt(t.relay.adminToken).sub!;
    const runs: DeviceRequest[] = [];
    const agent = await t.device("guarded-1", {
      allowPlaintext: false,
      echo: false,
      trustedControllers: new Map([
        [controllerKey.fingerprint, new Set([controllerId])],
      ]),
    });
    agent.handle("*", (request) => {
      runs.push(request);
      return encode(`done: ${decode(request.payload)}`);
    });

    // The trusted controller: its requests are served, sealed in a session.
    const tap = newTap<ControllerMessage, DeviceResponse>();
    const controller = new ControllerClient({
      connector: tapControllerConnector(
        controllerConnector(t.clientOptions),
        tap,
      ),
      token: t.relay.adminToken,
      e2e: { key: controllerKey },
    });
    try {
      const reply = await controller.call(
        "guarded-1",
        "open-door",
        encode("1"),
      );
      assert.equal(decode(reply), "done: 1");
    } finally {
      await controller.close();
    }
    const captured = tap.sent.find((m) => m.method_name === "open-door")
      ?.encrypted_payload as Uint8Array;
    assert.equal(sessionEnvelopeKind(captured), "request");
    assert.equal(runs.length, 1);
    assert.match(runs[0]!.controllerKey ?? "", /^SHA256:/);

    // The relay sends what it wants: a plaintext stream carries its bytes as they are.
    const relay = t.controller(undefined, { e2e: false }).openSession(
      "guarded-1",
    );
    const deviceKey = (await t.deviceKey("guarded-1")).publicKey;
    const binding = { deviceId: "guarded-1", controllerId };
    const refusals: [string, Uint8Array, string, RegExp][] = [];

    const ownKey = await generateDeviceKey();
    const own = await SenderSession.create(deviceKey, ownKey, binding);
    refusals.push([
      "sealed with the relay's own key",
      (await own.seal("open-door", encode("2"))).envelope,
      "open-door",
      /PERMISSION_DENIED|does not trust/,
    ]);
    const borrowed = (await own.seal("open-door", encode("3"))).envelope;
    borrowed.set(controllerKey.publicKey, 38); // names the trusted key as sender
    refusals.push([
      "naming the trusted key it does not hold",
      borrowed,
      "open-door",
      /cannot decrypt/,
    ]);
    refusals.push([
      "the captured request replayed",
      captured,
      "open-door",
      /replayed/,
    ]);
    refusals.push([
      "the captured request re-addressed to another method",
      captured,
      "self-destruct",
      /cannot decrypt/,
    ]);
    const unauthenticated = await sealRequest(deviceKey, {
      ...binding,
      method: "open-door",
    }, encode("4"));
    refusals.push([
      "a version 1 envelope, which names no sender",
      unauthenticated.envelope,
      "open-door",
      /not authenticated/,
    ]);
    for (const [what, payload, method, reason] of refusals) {
      const response = await relay.request(method, payload);
      assert.notEqual(response.error, "OK", what);
      assert.match(response.error_message, reason, what);
    }
    assert.equal(runs.length, 1, "no injected request reached the handler");
  },
);
