// End to end: the operator console in headless Chromium (Debian's package,
// driven by playwright-core). An operator signs in with a token and sees
// only its project's devices, a device that connects after the page loaded
// appears without a reload and goes OFFLINE when it leaves, the call form
// reaches an echo device; a viewer gets no call form and a 403 from the
// call API; no token is a 401. With UPDATE_SCREENSHOTS=1 it also writes
// docs/console/{fleet,device,charts}.png (not by default, so a test run
// leaves the tree clean).
import assert from "node:assert/strict";
import type { BrowserContext, Page } from "playwright-core";
import { launchChromium } from "./chromium_page.ts";
import { fileURLToPath } from "node:url";
import { deviceConnector } from "../mod.ts";
import { startTestRelay, type TestRelay } from "./harness.ts";
import { CHROMIUM, SystemTools } from "./system_tools.ts";

const WAIT_MS = 10_000;
const SCREENSHOTS = Deno.env.get("UPDATE_SCREENSHOTS") === "1"
  ? new URL("../docs/console/", import.meta.url)
  : undefined;

const tools = await SystemTools.check(CHROMIUM);

tools.test({
  name: "operator console in headless Chromium: login, live fleet, RBAC, call",
  async fn() {
    const t = await startTestRelay({
      config: { "observability.console.sample_interval_seconds": 0.5 },
    });
    const profile = await Deno.makeTempDir({ prefix: "relay-chromium-" });
    let context: BrowserContext | undefined;
    const consoleLines: string[] = [];
    try {
      await startFleet(t);
      const operator = await t.token("operator", {
        id: "ops-alpha",
        projects: ["alpha"],
      });
      const viewer = await t.token("viewer", {
        id: "viewer-alpha",
        projects: ["alpha"],
      });
      context = await launchChromium(tools.path("chromium"), profile, WAIT_MS);
      const page = context.pages()[0] ?? await context.newPage();
      page.setDefaultTimeout(WAIT_MS);
      page.on("console", (line) => consoleLines.push(line.text()));
      page.on("pageerror", (error) => consoleLines.push(String(error)));
      const url = `http://127.0.0.1:${t.relay.healthPort}/console/`;

      // No token: the API answers 401, and the page asks for one.
      await page.goto(url);
      await page.locator("#login-view").waitFor();
      const anonymous = await page.evaluate(async () => {
        const response = await fetch("api/devices");
        return { status: response.status, body: await response.json() };
      });
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.body.code, "UNAUTHORIZED");
      await signIn(page, "not-a-jwt");
      await page.locator("#login-error", { hasText: /^UNAUTHORIZED: / })
        .waitFor();

      // An operator of project alpha sees alpha's devices only.
      await signIn(page, operator);
      await row(page, "alpha-1").waitFor();
      await page.locator("#live", { hasText: "live" }).waitFor();
      assert.match(
        await row(page, "alpha-1").innerText(),
        /ONLINE\s+h2\s+alpha/,
      );
      assert.equal(await row(page, "beta-1").count(), 0, "project B hidden");
      assert.equal(await page.locator("#role").textContent(), "operator");

      // Live: a device that connects now appears without a reload...
      const late = await t.device("alpha-late", {
        token: t.registerDevice("alpha-late", "alpha"),
        metadata: { region: "eu-west" },
      });
      await row(page, "alpha-late", "ONLINE").waitFor();
      // ... filters apply to it ...
      await page.fill("#filter-label", "region=eu-west");
      await row(page, "alpha-3").waitFor({ state: "detached" }); // us-east
      assert.equal(await page.locator("#fleet tbody tr").count(), 3);
      await page.fill("#filter-label", "");
      // ... and it goes OFFLINE when it leaves.
      await late.close();
      await row(page, "alpha-late", "OFFLINE").waitFor();

      // The device page and the call form reach the echo device.
      await page.click('tr[data-device-id="alpha-1"] a');
      await page.locator("#device-title", { hasText: "alpha-1" }).waitFor();
      await page.locator("#transport-history").waitFor();
      assert.match(
        await page.locator("#device-view").innerText(),
        /not measured/,
      );
      await page.fill("#call-method", "echo");
      await page.fill("#call-payload", "hello from the console");
      await page.click("#call-submit");
      await page.locator("#call-answer").waitFor();
      assert.equal(
        await page.textContent("#call-answer"),
        "hello from the console",
      );
      assert.equal(await page.textContent("#call-code"), "OK");

      // A viewer: the same device, no call form, and the API refuses a call.
      await page.click("#logout");
      await signIn(page, viewer);
      await page.goto(`${url}#/device/alpha-1`);
      await page.locator("#device-title", { hasText: "alpha-1" }).waitFor();
      assert.equal(await page.locator("#call-form").count(), 0);
      const denied = await page.evaluate(async () => {
        const token = sessionStorage.getItem("relay-console-token");
        const response = await fetch("api/call", {
          method: "POST",
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/json",
          },
          body: JSON.stringify({ device_id: "alpha-1", method: "echo" }),
        });
        return { status: response.status, body: await response.json() };
      });
      assert.equal(denied.status, 403);
      assert.equal(denied.body.code, "PERMISSION_DENIED");
      await page.click("#logout");

      if (SCREENSHOTS) await takeScreenshots(page, t, url, SCREENSHOTS);
      assert.deepEqual(
        consoleLines.filter((line) =>
          /error/i.test(line) && !/40[13]/.test(line)
        ),
        [],
      );
    } catch (error) {
      console.error("page console:\n" + consoleLines.join("\n"));
      throw error;
    } finally {
      try {
        await t.close();
      } finally {
        await context?.close();
        await Deno.remove(profile, { recursive: true });
      }
    }
  },
});

/** Devices of two projects over both transports, with labels. */
async function startFleet(t: TestRelay): Promise<void> {
  const quic = deviceConnector({ ...t.clientOptions, transport: "quic" });
  const devices: [string, string, Record<string, string>, boolean][] = [
    ["alpha-1", "alpha", { region: "eu-west", model: "gw-200" }, false],
    ["alpha-2", "alpha", { region: "eu-west", model: "gw-100" }, true],
    ["alpha-3", "alpha", { region: "us-east", model: "gw-200" }, true],
    ["beta-1", "beta", { region: "ap-south", model: "sensor" }, false],
    ["beta-2", "beta", { region: "ap-south", model: "sensor" }, true],
  ];
  for (const [id, project, metadata, overQuic] of devices) {
    await t.device(id, {
      token: t.registerDevice(id, project),
      metadata,
      ...(overQuic ? { connector: quic } : {}),
    });
  }
}

/** The fleet table's row of a device (in a given state, when named). */
function row(page: Page, deviceId: string, state?: string) {
  return page.locator(
    `#fleet tr[data-device-id="${deviceId}"]${
      state ? `[data-state="${state}"]` : ""
    }`,
  );
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.locator("#login-view").waitFor();
  await page.fill("#token", token);
  await page.click("#login");
}

/** docs/console/*.png, as an admin sees a small fleet with some traffic. */
async function takeScreenshots(
  page: Page,
  t: TestRelay,
  url: string,
  dir: URL,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await page.setViewportSize({ width: 1280, height: 720 });
  const client = t.controller(undefined, { e2e: false });
  const session = client.openSession("alpha-1");
  const traffic = (async () => {
    // About 20 s of a varying load, a few failures among it.
    for (let i = 0; i < 200; i++) {
      const burst = 1 + Math.round(4 * (1 + Math.sin(i / 15)));
      await Promise.all(
        Array.from(
          { length: burst },
          (_, j) =>
            session.request(
              "echo",
              new TextEncoder().encode(`sample ${i}.${j}`),
            ),
        ),
      );
      if (i % 9 === 0) {
        await client.openSession("beta-9").request("echo", new Uint8Array(1));
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  await page.goto(url);
  await signIn(page, t.relay.adminToken);
  await row(page, "beta-2").waitFor();
  await page.screenshot({ path: fileURLToPath(new URL("fleet.png", dir)) });

  await page.goto(`${url}#/device/alpha-1`);
  await page.locator("#call-form").waitFor();
  await page.fill("#call-payload", '{"ping": 1}');
  await page.click("#call-submit");
  await page.locator("#call-answer").waitFor();
  await page.screenshot({
    path: fileURLToPath(new URL("device.png", dir)),
    fullPage: true,
  });

  await traffic;
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await page.goto(`${url}#/charts`);
  await page.locator("#chart-devices").waitFor();
  await page.screenshot({
    path: fileURLToPath(new URL("charts.png", dir)),
    fullPage: true,
  });
}
