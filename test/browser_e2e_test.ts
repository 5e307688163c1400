// End to end encryption from a browser: headless Chromium loads the demo
// page, which seals requests in envelope version 2 with WebCrypto and
// @hpke/core (served by the relay), to SDK device agents that refuse
// plaintext (the SDK default). The device's tap shows what crossed the
// relay; trusted-controller lists, pins and known keys are checked.
import assert from "node:assert/strict";
import type { BrowserContext, Page } from "playwright-core";
import { deviceConnector } from "../mod.ts";
import { generateDeviceKey } from "../src/e2e/device_key.ts";
import { sessionEnvelopeKind } from "../src/e2e/session_envelope.ts";
import type { DeviceMessage, RelayMessage } from "../src/sdk/connector.ts";
import type { DeviceRequest } from "../src/sdk/request_dispatcher.ts";
import { clearStatus, launchChromium, waitForStatus } from "./chromium_page.ts";
import { decode, encode, startTestRelay, type TestRelay } from "./harness.ts";
import { newTap, type Tap, tapDeviceConnector } from "./stream_tap.ts";
import { CHROMIUM, SystemTools } from "./system_tools.ts";

const WAIT_MS = 10_000;
const CONTROLLER_ID = "operator-controller"; // the harness's operator token sub

const tools = await SystemTools.check(CHROMIUM);

type DeviceTap = Tap<DeviceMessage, RelayMessage>;

/** A device agent that refuses plaintext, answering "re: <payload>". */
async function strictDevice(
  t: TestRelay,
  deviceId: string,
  options: Parameters<TestRelay["device"]>[1] = {},
) {
  const tap: DeviceTap = newTap();
  const runs: DeviceRequest[] = [];
  const agent = await t.device(deviceId, {
    allowPlaintext: false,
    echo: false,
    connector: tapDeviceConnector(deviceConnector(t.clientOptions), tap),
    ...options,
  });
  agent.handle("*", (request) => {
    runs.push(request);
    return encode(`re: ${decode(request.payload)}`);
  });
  return { agent, tap, runs };
}

/** The payloads of the requests the relay delivered to a tapped device. */
function delivered(tap: DeviceTap): Uint8Array[] {
  return tap.received.flatMap((message) =>
    message.data_request
      ? [new Uint8Array(message.data_request.encrypted_payload)]
      : []
  );
}

/** Calls through the demo page's form; returns the status line. */
async function callFromForm(
  page: Page,
  deviceId: string,
  text: string,
): Promise<string> {
  await page.fill("#device", deviceId);
  await page.fill("#method", "echo");
  await page.fill("#payload", text);
  await clearStatus(page);
  await page.click("#call");
  await page.locator("#status", { hasText: /^(OK in|[A-Z_]+: )/ }).waitFor();
  return (await page.textContent("#status")) ?? "";
}

tools.test({
  name: "browser controller seals requests end to end (headless Chromium)",
  async fn() {
    const t = await startTestRelay();
    const profile = await Deno.makeTempDir({ prefix: "relay-chromium-" });
    let context: BrowserContext | undefined;
    try {
      const strict = await strictDevice(t, "strict-1");
      const operator = await t.token("operator", { projects: ["default"] });
      context = await launchChromium(tools.path("chromium"), profile, WAIT_MS);
      const page = context.pages()[0] ?? await context.newPage();
      page.setDefaultTimeout(WAIT_MS);
      const consoleLines: string[] = [];
      page.on("console", (line) => consoleLines.push(line.text()));
      page.on("pageerror", (error) => consoleLines.push(String(error)));
      try {
        const demo = `http://127.0.0.1:${t.relay.healthPort}/demo/?token=${
          encodeURIComponent(operator)
        }`;
        await page.goto(demo);
        await waitForStatus(page, /^Ready$/);
        // Chromium's WebCrypto has X25519 (the page made its key with it).
        assert.equal(
          await page.evaluate(async () =>
            (await crypto.subtle.generateKey({ name: "X25519" }, false, [
              "deriveBits",
            ]) as CryptoKeyPair).publicKey.algorithm.name
          ),
          "X25519",
        );
        const pageKey = (await page.textContent("#own-key")) ?? "";
        assert.match(pageKey, /^SHA256:[A-Za-z0-9_-]{43}$/);

        // (1) A device that refuses plaintext serves the page; the answer
        // is opened in the page.
        assert.match(
          await callFromForm(page, "strict-1", "secret from chromium"),
          /^OK in \d+ ms$/,
        );
        assert.equal(
          await page.textContent("#response"),
          "re: secret from chromium",
        );
        const strictKey = (await t.deviceKey("strict-1")).fingerprint;
        assert.equal(
          await page.textContent("#device-key"),
          `${strictKey} (strict-1)`,
        );

        // (2) What crossed the relay was a version 2 session request, and
        // the device saw the page's key as its sender.
        const [envelope] = delivered(strict.tap);
        assert.equal(sessionEnvelopeKind(envelope!), "request");
        assert.ok(!decode(envelope!).includes("secret from chromium"));
        assert.equal(strict.runs.length, 1);
        assert.equal(strict.runs[0]!.encrypted, true);
        assert.equal(strict.runs[0]!.controllerKey, pageKey);
        assert.equal(strict.runs[0]!.controllerId, CONTROLLER_ID);

        // The device restarts (same key): it refuses the page's session as
        // stale; the page starts a new one and sends the request again.
        await strict.agent.close();
        const restarted = await strictDevice(t, "strict-1");
        assert.match(
          await callFromForm(page, "strict-1", "after restart"),
          /^OK in \d+ ms$/,
        );
        assert.equal(await page.textContent("#response"), "re: after restart");
        const [refused, resent] = delivered(restarted.tap);
        assert.ok(refused && resent, "the request was sent twice");
        // Another session: another encapsulated key (bytes 6..38).
        assert.notDeepEqual(refused.subarray(6, 38), resent.subarray(6, 38));
        assert.equal(restarted.runs.length, 1);

        // (3) A device that trusts only listed controller keys refuses the
        // page when its key is not listed, and serves it when it is.
        const otherKey = await generateDeviceKey();
        const guarded = await strictDevice(t, "guarded-1", {
          trustedControllers: new Map([[otherKey.fingerprint, "*"]]),
        });
        assert.match(
          await callFromForm(page, "guarded-1", "let me in"),
          /^PERMISSION_DENIED: e2e: request rejected/,
        );
        assert.equal(guarded.runs.length, 0);
        const trusting = await strictDevice(t, "guarded-2", {
          trustedControllers: new Map([[pageKey, new Set([CONTROLLER_ID])]]),
        });
        assert.match(
          await callFromForm(page, "guarded-2", "let me in"),
          /^OK in \d+ ms$/,
        );
        assert.equal(trusting.runs[0]?.controllerKey, pageKey);

        // (4) A pin that does not match is refused in the page: nothing is
        // sent to the device. So is a key that differs from the one the
        // page trusted on first use (remembered in localStorage, below).
        const before = delivered(restarted.tap).length;
        const refusals = await page.evaluate(
          async ({ token, wrongPin }) => {
            const client = "./relay_web_client.js"; // resolved by the page
            const { connectRelay } = await import(client);
            const info = await (await fetch("../webtransport")).json();
            const outcome = (call: Promise<unknown>) =>
              call.then(
                () => "resolved",
                (error: { code: string; message: string }) =>
                  `${error.code}: ${error.message}`,
              );
            const pinned = await connectRelay({
              url: info.url,
              certificateHash: info.certificateHashBase64,
              token,
              pins: { "strict-1": wrongPin },
            });
            try {
              return {
                pinned: await outcome(
                  pinned.openSession("strict-1").call(
                    "echo",
                    new Uint8Array([1]),
                  ),
                ),
                stored: localStorage.getItem(
                  "relay.e2e.known-key:strict-1",
                ),
              };
            } finally {
              pinned.close();
            }
          },
          { token: operator, wrongPin: "SHA256:" + "A".repeat(43) },
        );
        assert.match(
          refusals.pinned,
          new RegExp(
            `^UNAUTHORIZED: e2e: device strict-1 offers key ${strictKey} but SHA256:A{43} is pinned`,
          ),
        );
        assert.equal(refusals.stored, strictKey);
        assert.equal(delivered(restarted.tap).length, before);

        // The device comes back with another key: the page refuses it,
        // naming both keys.
        await restarted.agent.close();
        const newKey = await generateDeviceKey();
        const swapped = await strictDevice(t, "strict-1", { e2eKey: newKey });
        await page.goto(demo); // a new page session, the same localStorage
        await waitForStatus(page, /^Ready$/);
        const status = await callFromForm(page, "strict-1", "who are you");
        assert.match(status, /^UNAUTHORIZED: e2e: device strict-1 offers key/);
        assert.ok(status.includes(newKey.fingerprint), status);
        assert.ok(status.includes(`${strictKey} was trusted on first use`));
        assert.equal(delivered(swapped.tap).length, 0);
      } catch (error) {
        console.error("page console:\n" + consoleLines.join("\n"));
        console.error("relay log:\n" + t.logLines.join("\n"));
        throw error;
      }
    } finally {
      // The relay first (see browser_webtransport_test.ts).
      try {
        await t.close();
      } finally {
        await context?.close();
        await Deno.remove(profile, { recursive: true });
      }
    }
  },
});
