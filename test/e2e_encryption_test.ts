// End-to-end payload encryption between the SDKs, over every transport: the
// relay forwards only ciphertext, the device refuses tampered, replayed,
// stale and plaintext requests, and the controller refuses a swapped device
// key and a tampered or plaintext response.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { decodeJwt } from "jose";
import {
  E2E_METADATA_KEY,
  generateDeviceKey,
  publicKeyMetadata,
} from "../src/e2e/device_key.ts";
import { envelopeKind, sealRequest } from "../src/e2e/envelope.ts";
import { sessionEnvelopeKind } from "../src/e2e/session_envelope.ts";
import { RelayError } from "../src/errors/relay_error.ts";
import {
  ControllerClient,
  controllerConnector,
  DeviceAgent,
  deviceConnector,
} from "../mod.ts";
import type {
  ControllerMessage,
  DeviceMessage,
  DeviceResponse,
  RelayMessage,
} from "../src/sdk/connector.ts";
import type { DeviceRequest } from "../src/sdk/device_agent.ts";
import {
  contractTest,
  decode,
  encode,
  eventually,
  type TestRelay,
} from "./harness.ts";
import { nextDataRequest, rawDevice } from "./raw_device.ts";
import {
  newTap,
  tapControllerConnector,
  tapDeviceConnector,
} from "./stream_tap.ts";

/** A request or response envelope of either version (sessions for current devices). */
function sealedKind(bytes: Uint8Array): string | undefined {
  return sessionEnvelopeKind(bytes) ?? envelopeKind(bytes);
}

/** What harness devices use unless a test says otherwise: the SDK default. */
const STRICT = { allowPlaintext: false } as const;
const PLAINTEXT = { e2e: false } as const;

function rejectedWith(code: string, pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof RelayError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return true;
  };
}

/** Every string and byte field (as latin1) anywhere inside `value`. */
function texts(value: unknown, out: string[] = []): string[] {
  if (typeof value === "string") out.push(value);
  else if (value instanceof Uint8Array) {
    out.push(Buffer.from(value).toString("latin1"));
  } else if (Array.isArray(value)) {
    for (const item of value) texts(item, out);
  } else if (value !== null && typeof value === "object") {
    for (const item of Object.values(value)) texts(item, out);
  }
  return out;
}

/** The canary as it could show up: raw, base64, base64url, hex. */
function forms(canary: string): string[] {
  const bytes = Buffer.from(canary);
  return [
    canary,
    bytes.toString("base64").replace(/=+$/, ""),
    bytes.toString("base64url"),
    bytes.toString("hex"),
  ];
}

function assertAbsent(haystack: string[], canary: string, where: string) {
  for (const form of forms(canary)) {
    const hit = haystack.find((text) => text.includes(form));
    assert.equal(hit, undefined, `${canary} (as ${form}) found in ${where}`);
  }
}

async function filesUnder(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) {
      for (const [name, text] of await filesUnder(path)) files.set(name, text);
    } else if (entry.isFile) {
      files.set(
        path,
        Buffer.from(await Deno.readFile(path)).toString("latin1"),
      );
    }
  }
  return files;
}

/** A strict device (the SDK default) that counts handler runs. */
async function strictDevice(t: TestRelay, deviceId: string) {
  const runs: DeviceRequest[] = [];
  const agent = await t.device(deviceId, { ...STRICT, echo: false });
  agent.handle("*", (request) => {
    runs.push(request);
    return request.payload;
  });
  return { agent, runs };
}

/** Seals a request by hand, as the admin controller's SDK would. */
async function sealForAdmin(
  t: TestRelay,
  deviceId: string,
  payload: string,
  sealedAt?: number,
) {
  const controllerId = decodeJwt(t.relay.adminToken).sub!;
  return await sealRequest(
    (await t.deviceKey(deviceId)).publicKey,
    { deviceId, controllerId, method: "echo" },
    encode(payload),
    sealedAt,
  );
}

contractTest(
  "requests and responses are encrypted by default and the device key is trusted on first use",
  {},
  async (t) => {
    const { agent, runs } = await strictDevice(t, "rt-1");
    const trusted: string[] = [];
    const client = t.controller(undefined, {
      e2e: { onFirstUse: (id, key) => trusted.push(`${id} ${key}`) },
    });
    const [info] = await client.listDevices();
    assert.equal(
      info?.metadata[E2E_METADATA_KEY],
      publicKeyMetadata(await t.deviceKey("rt-1"))[E2E_METADATA_KEY],
    );

    assert.equal(decode(await client.call("rt-1", "echo", encode("hi"))), "hi");
    assert.deepEqual(trusted, [`rt-1 ${await agent.e2eFingerprint()}`]);
    assert.equal(runs[0]?.encrypted, true);
    assert.equal(runs[0]?.controllerId, "admin");

    // Pipelined, empty and large payloads all round-trip.
    const payloads = Array.from({ length: 20 }, (_, i) => `p${i}`);
    const replies = await Promise.all(
      payloads.map((p) => client.call("rt-1", "echo", encode(p))),
    );
    assert.deepEqual(replies.map(decode), payloads);
    assert.equal(
      (await client.call("rt-1", "echo", new Uint8Array())).byteLength,
      0,
    );
    const large = crypto.getRandomValues(new Uint8Array(60_000));
    assert.deepEqual(
      new Uint8Array(await client.call("rt-1", "echo", large)),
      large,
    );
    assert.deepEqual(trusted.length, 1);
  },
);

contractTest(
  "the relay sees no plaintext: not in forwarded bytes, logs, audit records or state",
  {},
  async (t) => {
    const requestCanary = `canary-request-${crypto.randomUUID()}`;
    const responseCanary = `canary-response-${crypto.randomUUID()}`;
    const device = newTap<DeviceMessage, RelayMessage>();
    const agent = await t.device("canary-1", {
      ...STRICT,
      echo: false,
      connector: tapDeviceConnector(deviceConnector(t.clientOptions), device),
    });
    let received = "";
    agent.handle("secret", (request) => {
      received = decode(request.payload);
      return encode(`${responseCanary} for ${received}`);
    });
    const controller = newTap<ControllerMessage, DeviceResponse>();
    const client = new ControllerClient({
      connector: tapControllerConnector(
        controllerConnector(t.clientOptions),
        controller,
      ),
      token: t.relay.adminToken,
    });
    try {
      const reply = await client.call(
        "canary-1",
        "secret",
        encode(requestCanary),
      );
      assert.equal(decode(reply), `${responseCanary} for ${requestCanary}`);
      assert.equal(received, requestCanary);
    } finally {
      await client.close();
    }

    // The taps really saw the request and the response go through the relay.
    const request = device.received.find((m) => m.data_request)?.data_request;
    assert.equal(request?.method_name, "secret");
    assert.equal(sealedKind(request.encrypted_payload), "request");
    const answer = controller.received.find((m) => m.error === "OK");
    assert.equal(sealedKind(answer!.encrypted_payload), "response");

    // Control: the same taps do see a payload sent in plaintext.
    const plainCanary = `canary-plain-${crypto.randomUUID()}`;
    const plain = newTap<DeviceMessage, RelayMessage>();
    await t.device("canary-2", {
      allowPlaintext: true,
      connector: tapDeviceConnector(deviceConnector(t.clientOptions), plain),
    });
    await t.controller(undefined, PLAINTEXT).call(
      "canary-2",
      "echo",
      encode(plainCanary),
    );
    assert.ok(texts(plain.received).some((text) => text.includes(plainCanary)));

    const places: [string, string[]][] = [
      ["what the relay forwarded to the device", texts(device.received)],
      [
        "what the relay forwarded to the controller",
        texts(controller.received),
      ],
      ["what the device sent the relay", texts(device.sent)],
      ["what the controller sent the relay", texts(controller.sent)],
    ];
    const metrics = await fetch(
      `http://127.0.0.1:${t.relay.healthPort}/metrics`,
    );
    places.push(["/metrics", [await metrics.text()]]);
    // Stopped, so the audit log and the store are flushed to disk.
    await t.relay.shutdown();
    places.push(["relay log lines", t.logLines]);
    // The audit log (<state-dir>/audit.log by default), the store, anything else.
    const files = await filesUnder(t.stateDir);
    assert.ok(files.size > 0);
    for (const [path, text] of files) places.push([path, [text]]);
    for (const [where, haystack] of places) {
      assertAbsent(haystack, requestCanary, where);
      assertAbsent(haystack, responseCanary, where);
    }
  },
);

contractTest(
  "a tampered or re-addressed request is refused by the device, which keeps serving",
  {},
  async (t) => {
    const { runs } = await strictDevice(t, "tamper-1");
    const session = t.controller(undefined, PLAINTEXT).openSession("tamper-1");
    const sealed = await sealForAdmin(t, "tamper-1", "tamper me");
    const length = sealed.envelope.byteLength;
    // In enc, in the ciphertext, in the tag.
    for (const index of [6, 20, 45, length - 1]) {
      const tampered = sealed.envelope.slice();
      tampered[index]! ^= 0x01;
      const response = await session.request("echo", tampered);
      assert.equal(response.error, "INVALID_REQUEST", `byte ${index}`);
      assert.match(
        response.error_message,
        /^e2e: request rejected: cannot decrypt/,
      );
    }
    // The relay could re-address an intact request to another method.
    const other = await session.request("reboot", sealed.envelope);
    assert.equal(other.error, "INVALID_REQUEST");
    assert.match(other.error_message, /cannot decrypt/);
    assert.equal(runs.length, 0);

    // The device is still fine, and the untouched envelope opens.
    const intact = await session.request("echo", sealed.envelope);
    assert.equal(intact.error, "OK");
    assert.equal(
      decode(await sealed.openResponse(intact.encrypted_payload)),
      "tamper me",
    );
    assert.equal(runs.length, 1);
  },
);

contractTest(
  "a replayed or stale request envelope is refused",
  {},
  async (t) => {
    const { runs } = await strictDevice(t, "replay-1");
    const session = t.controller(undefined, PLAINTEXT).openSession("replay-1");
    const sealed = await sealForAdmin(t, "replay-1", "once only");
    const first = await session.request("echo", sealed.envelope);
    assert.equal(first.error, "OK");
    assert.equal(
      decode(await sealed.openResponse(first.encrypted_payload)),
      "once only",
    );
    // Another sequence number, so the relay forwards it again.
    const replay = await session.request("echo", sealed.envelope);
    assert.equal(replay.error, "INVALID_REQUEST");
    assert.equal(replay.error_message, "e2e: request rejected: replayed");

    const old = await sealForAdmin(t, "replay-1", "old", Date.now() - 600_000);
    const stale = await session.request("echo", old.envelope);
    assert.equal(stale.error, "INVALID_REQUEST");
    assert.match(stale.error_message, /^e2e: request rejected: stale/);
    const ahead = await sealForAdmin(t, "replay-1", "x", Date.now() + 600_000);
    const future = await session.request("echo", ahead.envelope);
    assert.match(future.error_message, /in the future/);
    assert.equal(runs.length, 1);
  },
);

contractTest(
  "a device key that changed is refused by a controller that trusted or pinned the old one",
  {},
  async (t) => {
    const original = await strictDevice(t, "swap-1");
    const pinnedKey = await original.agent.e2eFingerprint();
    const client = t.controller();
    assert.equal(decode(await client.call("swap-1", "echo", encode("a"))), "a");

    // The device comes back with another key (or the relay swaps it).
    await original.agent.close();
    await t.device("swap-1", { ...STRICT, e2eKey: await generateDeviceKey() });
    // Sealed to the old key: the device cannot open it.
    await assert.rejects(
      client.call("swap-1", "echo", encode("b")),
      rejectedWith("INVALID_REQUEST", /e2e: request rejected: cannot decrypt/),
    );
    // Looked up again: the new key is not the one trusted on first use.
    await assert.rejects(
      client.call("swap-1", "echo", encode("c")),
      rejectedWith(
        "UNAUTHORIZED",
        new RegExp(
          `^e2e: device swap-1 offers key SHA256:\\S+ but ${
            pinnedKey.replace(/[+/]/g, "\\$&")
          } was trusted on first use`,
        ),
      ),
    );
    // An explicit pin of the old key refuses it just the same.
    await assert.rejects(
      t.controller(undefined, { e2e: { pins: { "swap-1": pinnedKey } } })
        .call("swap-1", "echo", encode("d")),
      rejectedWith("UNAUTHORIZED", /is pinned; refusing/),
    );
    // A controller that pins the new key talks to it.
    const fresh = (await t.controller().listDevices())[0]!;
    assert.notEqual(fresh.metadata[E2E_METADATA_KEY], undefined);
    const newKey = `SHA256:${
      Buffer.from(
        await crypto.subtle.digest(
          "SHA-256",
          Buffer.from(fresh.metadata[E2E_METADATA_KEY]!, "base64url"),
        ),
      ).toString("base64url")
    }`;
    assert.notEqual(newKey, pinnedKey);
    const pinnedNew = t.controller(undefined, {
      e2e: { pins: { "swap-1": newKey }, trustOnFirstUse: false },
    });
    assert.equal(
      decode(await pinnedNew.call("swap-1", "echo", encode("e"))),
      "e",
    );
  },
);

contractTest(
  "a tampered or plaintext response is rejected by the controller",
  {},
  async (t) => {
    const tap = newTap<DeviceMessage, RelayMessage>();
    tap.rewrite = (message) => {
      const payload = message.data?.encrypted_payload;
      if (
        !(payload instanceof Uint8Array) || sealedKind(payload) !== "response"
      ) {
        return message;
      }
      const tampered = payload.slice();
      tampered[tampered.length - 1]! ^= 0x01;
      return {
        ...message,
        data: { ...message.data, encrypted_payload: tampered },
      };
    };
    await t.device("resp-1", {
      ...STRICT,
      connector: tapDeviceConnector(deviceConnector(t.clientOptions), tap),
    });
    const client = t.controller();
    await assert.rejects(
      client.call("resp-1", "echo", encode("x")),
      rejectedWith(
        "INTERNAL_ERROR",
        /^e2e: response rejected: tampered, or not sealed for this request$/,
      ),
    );

    // A device advertising a key but answering in plaintext (as a relay
    // forging answers would) is refused as well.
    const key = await generateDeviceKey();
    const raw = await rawDevice(t, "resp-2", t.registerDevice("resp-2"), {
      metadata: publicKeyMetadata(key),
    });
    const pending = client.call("resp-2", "echo", encode("y"));
    const request = await nextDataRequest(raw);
    assert.equal(sealedKind(request.encrypted_payload), "request");
    await raw.answer(request, encode("forged answer"));
    await assert.rejects(
      pending,
      rejectedWith("INTERNAL_ERROR", /not an encrypted response/),
    );
    raw.drop();
  },
);

contractTest(
  "plaintext is refused by default on both sides",
  {},
  async (t) => {
    // Device side: an agent with the SDK defaults refuses a plaintext request.
    let runs = 0;
    const agent = new DeviceAgent({
      connector: deviceConnector(t.clientOptions),
      deviceId: "strict-1",
      token: t.registerDevice("strict-1"),
    });
    agent.handle("*", (request) => {
      runs++;
      return request.payload;
    });
    const connected = agent.waitFor("connected");
    agent.start();
    try {
      await connected;
      const plain = t.controller(undefined, PLAINTEXT);
      await assert.rejects(
        plain.call("strict-1", "echo", encode("in the clear")),
        rejectedWith(
          "INVALID_REQUEST",
          /^e2e: request rejected: not encrypted, and this device accepts only end-to-end encrypted requests$/,
        ),
      );
      assert.equal(runs, 0);
      // The SDK controller's default works with it.
      await t.controller().call("strict-1", "echo", encode("sealed"));
      assert.equal(runs, 1);
    } finally {
      await agent.close();
    }

    // Controller side: a device that advertises no key gets nothing.
    const raw = await rawDevice(t, "keyless-1", t.registerDevice("keyless-1"));
    await assert.rejects(
      t.controller().call("keyless-1", "echo", encode("secret")),
      rejectedWith(
        "INVALID_REQUEST",
        /^e2e: device keyless-1 advertises no encryption key/,
      ),
    );
    // Opting out sends plaintext; it is the first request the device sees.
    const pending = t.controller(undefined, PLAINTEXT).call(
      "keyless-1",
      "echo",
      encode("opted out"),
    );
    const request = await nextDataRequest(raw);
    assert.equal(decode(request.encrypted_payload), "opted out");
    await raw.answer(request, request.encrypted_payload);
    assert.equal(decode(await pending), "opted out");
    raw.drop();

    // With allowPlaintext the device accepts both, and says which it got.
    const seen: boolean[] = [];
    const lenient = await t.device("lenient-1", {
      allowPlaintext: true,
      echo: false,
    });
    lenient.handle("*", (request) => {
      seen.push(request.encrypted);
      return request.payload;
    });
    await t.controller(undefined, PLAINTEXT).call(
      "lenient-1",
      "m",
      encode("1"),
    );
    await t.controller().call("lenient-1", "m", encode("2"));
    assert.deepEqual(seen, [false, true]);
  },
);

contractTest(
  "retries reuse their envelope and unlisted devices get the relay's own error",
  {},
  async (t) => {
    const { runs } = await strictDevice(t, "retry-1");
    const session = t.controller().openSession("retry-1");
    const first = await session.call("echo", encode("same"), {
      sequenceNumber: 77,
    });
    // The relay answers the retry from its idempotency cache: same
    // ciphertext, and it still opens.
    const again = await session.call("echo", encode("same"), {
      sequenceNumber: 77,
    });
    assert.equal(decode(first), "same");
    assert.equal(decode(again), "same");
    assert.equal(runs.length, 1);
    // A different payload under the same number is still refused by the relay.
    await assert.rejects(
      session.call("echo", encode("different"), { sequenceNumber: 77 }),
      rejectedWith("INVALID_REQUEST", /already used for a different request/),
    );

    // Not listed, so no key: the relay answers why, and no payload left.
    await assert.rejects(
      t.controller().call("ghost-1", "echo", encode("x")),
      rejectedWith("DEVICE_NOT_FOUND", /no such device/),
    );
    t.registerDevice("offline-1");
    await assert.rejects(
      t.controller().call("offline-1", "echo", encode("x")),
      rejectedWith("DEVICE_OFFLINE", /not connected/),
    );
    const outsider = await t.token("operator", { projects: ["elsewhere"] });
    await assert.rejects(
      t.controller(outsider).call("retry-1", "echo", encode("x")),
      rejectedWith("UNAUTHORIZED", /not found or not accessible/),
    );
    await eventually(() => runs.length === 1);
  },
);
