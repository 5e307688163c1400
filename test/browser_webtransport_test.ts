// End to end: a browser controller over WebTransport. Headless Chromium
// (Debian's package, driven by playwright-core) loads the demo page from the
// relay's HTTP port, pins the relay's short-lived ECDSA certificate with
// serverCertificateHashes, lists devices and calls an echo device.
import assert from "node:assert/strict";
import type { BrowserContext } from "playwright-core";
import { clearStatus, launchChromium, waitForStatus } from "./chromium_page.ts";
import { startTestRelay } from "./harness.ts";
import { CHROMIUM, SystemTools } from "./system_tools.ts";

const DEVICE_ID = "browser-echo";
const WAIT_MS = 10_000;

const tools = await SystemTools.check(CHROMIUM);
const inCi = Deno.env.get("CI") === "true";
const collectGarbage = (globalThis as { gc?: () => void }).gc;

tools.test({
  name: "browser controller over WebTransport (headless Chromium)",
  async fn() {
    assert.ok(
      collectGarbage || !inCi,
      "run with --v8-flags=--expose-gc (test/run_tests.ts does)",
    );
    const t = await startTestRelay();
    const profile = await Deno.makeTempDir({ prefix: "relay-chromium-" });
    let context: BrowserContext | undefined;
    const demo = (token: string) =>
      `http://127.0.0.1:${t.relay.healthPort}/demo/?token=${
        encodeURIComponent(token)
      }`;
    try {
      await t.device(DEVICE_ID);
      const operator = await t.token("operator", { projects: ["default"] });
      const stranger = await t.token("operator", {
        id: "stranger",
        projects: ["other"],
      });
      context = await launchChromium(tools.path("chromium"), profile, WAIT_MS);
      const page = context.pages()[0] ?? await context.newPage();
      page.setDefaultTimeout(WAIT_MS);
      const consoleLines: string[] = [];
      page.on("console", (line) => consoleLines.push(line.text()));
      page.on("pageerror", (error) => consoleLines.push(String(error)));
      try {
        // An operator of the device's project lists it and calls it.
        await page.goto(demo(operator));
        await waitForStatus(page, /^Ready$/);
        await page.click("#list");
        await waitForStatus(page, /^1 device\(s\) online$/);
        const row = page.locator(`tr[data-device-id="${DEVICE_ID}"]`);
        assert.equal(await row.count(), 1);
        assert.match(await row.innerText(), /default\s+ONLINE\s+h2/);

        await page.fill("#device", DEVICE_ID);
        await page.fill("#method", "echo");
        await page.fill("#payload", "hello from chromium");
        await page.click("#call");
        await waitForStatus(page, /^OK in \d+ ms$/);
        assert.equal(
          await page.textContent("#response"),
          "hello from chromium",
        );

        // The client module itself: pipelined calls on one session, answers
        // matched by sequence number, a frame split over many chunks, a
        // per-request error carried as .code.
        // Collect garbage all along (test/run_tests.ts exposes gc): a
        // WebTransport session the relay stops referencing would be
        // collected with its HTTP/3 streams: "Connection lost" in the page.
        const gcPressure = setInterval(() => collectGarbage?.(), 10);
        const pipelined = await page.evaluate(
          async ({ deviceId, token }) => {
            const client = "./relay_web_client.js"; // resolved by the page
            const { connectRelay } = await import(client);
            const info = await (await fetch("../webtransport")).json();
            const relay = await connectRelay({
              url: info.url,
              certificateHash: info.certificateHashBase64,
              token,
            });
            try {
              const session = relay.openSession(deviceId);
              const texts = Array.from(
                { length: 20 },
                (_, i) => `message ${i}`,
              );
              const answers = await Promise.all(
                texts.map((text) =>
                  session.call("echo", new TextEncoder().encode(text))
                ),
              );
              // Large enough to arrive in many stream chunks.
              const big = Uint8Array.from(
                { length: 512 * 1024 },
                (_, i) => i % 251,
              );
              const bigEcho: Uint8Array = await session.call("echo", big);
              const bigIntact = bigEcho.byteLength === big.byteLength &&
                bigEcho.every((byte, i) => byte === big[i]);
              const missing = await relay.openSession("no-such-device")
                .call("echo", new Uint8Array([1]), { timeoutMs: 2000 })
                .then(
                  () => "resolved",
                  (error: { code: string }) => error.code,
                );
              return {
                answers: answers.map((bytes) =>
                  new TextDecoder().decode(bytes)
                ),
                texts,
                bigIntact,
                missing,
              };
            } finally {
              relay.close();
            }
          },
          { deviceId: DEVICE_ID, token: operator },
        ).finally(() => clearInterval(gcPressure));
        assert.deepEqual(pipelined.answers, pipelined.texts);
        assert.ok(pipelined.bigIntact, "a 512 KiB payload echoed intact");
        // Non-admins learn nothing about devices outside their projects.
        assert.equal(pipelined.missing, "UNAUTHORIZED");

        // An operator of another project sees no devices.
        await page.goto(demo(stranger));
        await waitForStatus(page, /^Ready$/);
        await page.click("#list");
        await waitForStatus(page, /^0 device\(s\) online$/);
        assert.equal(await page.locator("#devices tbody tr").count(), 0);

        // A bad token is refused with UNAUTHORIZED, for listing and calling.
        await page.goto(demo("not-a-jwt"));
        await waitForStatus(page, /^Ready$/);
        await page.click("#list");
        await waitForStatus(page, /^UNAUTHORIZED: /);
        await page.fill("#device", DEVICE_ID);
        await page.fill("#payload", "should not arrive");
        await clearStatus(page);
        await page.click("#call");
        await waitForStatus(page, /^UNAUTHORIZED: /);
      } catch (error) {
        console.error("page console:\n" + consoleLines.join("\n"));
        console.error("relay log:\n" + t.logLines.join("\n"));
        throw error;
      }
    } finally {
      // The relay first: a browser that leaves first is noticed only at the
      // QUIC idle timeout, where the relay's unobserved WebTransport
      // `closed` promise then rejects unhandled (a QUIC server bug).
      try {
        await t.close();
      } finally {
        await context?.close();
        await Deno.remove(profile, { recursive: true });
      }
    }
  },
});
