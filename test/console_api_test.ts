// The operator console's HTTP API without a browser: authentication (401
// with a JSON error naming what was wrong), the gRPC API's RBAC (projects,
// viewers read only, method allow-lists), calls through the relay's request
// path, the live fleet stream, device history, the metrics ring and the
// security headers. The browser test (browser_console_test.ts) drives the
// page itself.
import assert from "node:assert/strict";
import { eventually, startTestRelay, type TestRelay } from "./harness.ts";
import { sseReader } from "./sse_reader.ts";

const CONFIG = {
  "observability.console.sample_interval_seconds": 0.1,
  // Viewers and operators may call echo* only; admins anything.
  "relay.auth.roles.operator.allowed_methods": ["echo*"],
};

function consoleUrl(t: TestRelay, path = ""): string {
  return `http://127.0.0.1:${t.relay.healthPort}/console/${path}`;
}

async function get(
  t: TestRelay,
  path: string,
  token?: string,
): Promise<
  { status: number; body: Record<string, unknown>; headers: Headers }
> {
  const response = await fetch(consoleUrl(t, path), {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return {
    status: response.status,
    body: await response.json(),
    headers: response.headers,
  };
}

async function call(
  t: TestRelay,
  token: string,
  body: Record<string, unknown>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(consoleUrl(t, "api/call"), {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** Two projects with one echo device each, and tokens for every role. */
async function fleet(t: TestRelay) {
  await t.device("alpha-1", { token: t.registerDevice("alpha-1", "alpha") });
  await t.device("beta-1", { token: t.registerDevice("beta-1", "beta") });
  return {
    admin: t.relay.adminToken,
    viewer: await t.token("viewer", { id: "v", projects: ["alpha"] }),
    alpha: await t.token("operator", { id: "op-a", projects: ["alpha"] }),
    beta: await t.token("operator", { id: "op-b", projects: ["beta"] }),
  };
}

const ids = (body: Record<string, unknown>) =>
  (body.devices as { device_id: string }[]).map((d) => d.device_id).sort();

Deno.test("console API: no token, a malformed header or a bad token is 401 with a JSON error", async () => {
  const t = await startTestRelay({ config: CONFIG });
  try {
    const none = await get(t, "api/devices");
    assert.equal(none.status, 401);
    assert.equal(none.body.code, "UNAUTHORIZED");
    assert.match(String(none.body.message), /missing Authorization header/);
    assert.match(none.headers.get("www-authenticate") ?? "", /^Bearer /);

    const basic = await fetch(consoleUrl(t, "api/me"), {
      headers: { authorization: "Basic dXNlcjpwYXNz" },
    });
    assert.equal(basic.status, 401);
    assert.match((await basic.json()).message, /must be 'Bearer/);

    const bad = await get(t, "api/me", "not-a-jwt");
    assert.equal(bad.status, 401);
    assert.match(String(bad.body.message), /^invalid controller token: /);

    const expired = await get(
      t,
      "api/me",
      await t.token("admin", { ttlSeconds: -60 }),
    );
    assert.equal(expired.status, 401);
    assert.match(String(expired.body.message), /"exp" claim/);

    // A call without a token never reaches RBAC or the device.
    const response = await fetch(consoleUrl(t, "api/call"), {
      method: "POST",
      body: JSON.stringify({ device_id: "x", method: "echo" }),
    });
    assert.equal(response.status, 401);
    await response.body?.cancel();
  } finally {
    await t.close();
  }
});

Deno.test("console API: every answer has the console's CSP; the page is served from the relay", async () => {
  const t = await startTestRelay({ config: CONFIG });
  try {
    for (const path of ["", "app.js", "console.css", "api/me"]) {
      const response = await fetch(consoleUrl(t, path));
      assert.equal(
        response.headers.get("content-security-policy")?.split(";")[0],
        "default-src 'self'",
        path,
      );
      await response.body?.cancel();
    }
    const page = await fetch(consoleUrl(t));
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    const html = await page.text();
    assert.doesNotMatch(html, /https?:\/\//, "nothing from elsewhere");
    const bare = await fetch(
      `http://127.0.0.1:${t.relay.healthPort}/console`,
      { redirect: "manual" },
    );
    assert.equal(bare.status, 308);
    assert.equal(bare.headers.get("location"), "/console/");
    const missing = await fetch(consoleUrl(t, "../../etc/passwd"));
    assert.notEqual(missing.status, 200);
    await missing.body?.cancel();
    const unknown = await get(t, "api/nothing", t.relay.adminToken);
    assert.equal(unknown.status, 404);
  } finally {
    await t.close();
  }
});

Deno.test("console API: devices are scoped by project as ListOnlineDevices scopes them", async () => {
  const t = await startTestRelay({ config: CONFIG });
  try {
    const tokens = await fleet(t);
    assert.deepEqual(ids((await get(t, "api/devices", tokens.admin)).body), [
      "alpha-1",
      "beta-1",
    ]);
    assert.deepEqual(ids((await get(t, "api/devices", tokens.alpha)).body), [
      "alpha-1",
    ]);
    assert.deepEqual(ids((await get(t, "api/devices", tokens.viewer)).body), [
      "alpha-1",
    ]);
    assert.deepEqual(ids((await get(t, "api/devices", tokens.beta)).body), [
      "beta-1",
    ]);
    // The same as the gRPC API's listing.
    const viaGrpc = await t.controller(tokens.alpha).listDevices();
    assert.deepEqual(viaGrpc.map((d) => d.device_id), ["alpha-1"]);

    const me = await get(t, "api/me", tokens.viewer);
    assert.equal(me.body.role, "viewer");
    assert.equal(me.body.can_call, false);
    assert.deepEqual(me.body.projects, ["alpha"]);

    // A device page of another project is as absent as no device at all.
    const other = await get(t, "api/devices/beta-1", tokens.alpha);
    assert.equal(other.status, 404);
    assert.equal(other.body.code, "DEVICE_NOT_FOUND");
    const own = await get(t, "api/devices/alpha-1", tokens.viewer);
    assert.equal(own.status, 200);
    const device = own.body.device as Record<string, unknown>;
    assert.equal(device.transport, "h2");
    assert.equal(own.body.rtt_ms, null);
    const history = own.body.history as { transports: { event: string }[] };
    assert.equal(history.transports[0]?.event, "connected");
  } finally {
    await t.close();
  }
});

Deno.test("console API: calls follow RBAC, method allow-lists and the device's answer", async () => {
  const t = await startTestRelay({ config: CONFIG });
  try {
    const tokens = await fleet(t);
    const echo = { device_id: "alpha-1", method: "echo", payload: "hi" };

    const viewer = await call(t, tokens.viewer, echo);
    assert.equal(viewer.status, 403);
    assert.equal(viewer.body.code, "PERMISSION_DENIED");
    assert.match(String(viewer.body.message), /role viewer may not send/);

    const stranger = await call(t, tokens.beta, echo);
    assert.equal(stranger.status, 404);
    assert.equal(stranger.body.code, "DEVICE_NOT_FOUND");

    const notAllowed = await call(t, tokens.alpha, {
      ...echo,
      method: "reboot",
    });
    assert.equal(notAllowed.status, 403);
    assert.match(String(notAllowed.body.message), /may not call method reboot/);

    const ok = await call(t, tokens.alpha, echo);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.code, "OK");
    assert.equal(ok.body.payload_text, "hi");

    const binary = await call(t, tokens.admin, {
      device_id: "alpha-1",
      method: "anything",
      payload: "AP8=",
      encoding: "base64",
    });
    assert.equal(binary.body.code, "OK");
    assert.equal(binary.body.payload_base64, "AP8=");
    assert.equal(binary.body.payload_text, null);

    const badInput = await call(t, tokens.alpha, { ...echo, timeout_ms: -1 });
    assert.equal(badInput.status, 400);
    assert.equal(badInput.body.code, "INVALID_REQUEST");

    // A device that accepts only end-to-end encrypted requests (the SDK
    // default) refuses the console's plaintext, and the console says so.
    await t.device("strict-1", {
      token: t.registerDevice("strict-1", "alpha"),
      allowPlaintext: false,
    });
    const refused = await call(t, tokens.alpha, {
      ...echo,
      device_id: "strict-1",
    });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.code, "INVALID_REQUEST");
    assert.match(String(refused.body.message), /not encrypted/);
    // ... and the device's page lists it among its recent errors.
    const page = await get(t, "api/devices/strict-1", tokens.alpha);
    const errors = (page.body.history as { errors: { code: string }[] })
      .errors;
    assert.deepEqual(errors.map((e) => e.code), ["INVALID_REQUEST"]);

    const viewerGet = await get(t, "api/call", tokens.alpha);
    assert.equal(viewerGet.status, 400, "GET on the call endpoint");
  } finally {
    await t.close();
  }
});

Deno.test("console API: the live stream sends a snapshot, then devices coming and going", async () => {
  const t = await startTestRelay({ config: CONFIG });
  const abort = new AbortController();
  try {
    const tokens = await fleet(t);
    const response = await fetch(consoleUrl(t, "api/events"), {
      headers: { authorization: `Bearer ${tokens.alpha}` },
      signal: abort.signal,
    });
    assert.equal(response.status, 200);
    assert.match(
      response.headers.get("content-type") ?? "",
      /^text\/event-stream/,
    );
    const events = sseReader(response.body!);
    const snapshot = await events.next("snapshot");
    assert.deepEqual(ids(snapshot), ["alpha-1"]);

    const late = await t.device("alpha-2", {
      token: t.registerDevice("alpha-2", "alpha"),
    });
    // Another project's device never shows up on this stream.
    await t.device("beta-2", { token: t.registerDevice("beta-2", "beta") });
    const added = await events.next("changes");
    assert.deepEqual(
      (added.upsert as { device_id: string }[]).map((d) => d.device_id),
      ["alpha-2"],
    );
    await late.close();
    const removed = await events.next("changes");
    assert.deepEqual(removed.remove, ["alpha-2"]);
    assert.equal(t.relay.healthPort > 0, true);
  } finally {
    abort.abort();
    await t.close();
  }
});

Deno.test("console API: the live stream ends with an error event when its token is revoked", async () => {
  const t = await startTestRelay({ config: CONFIG });
  const abort = new AbortController();
  try {
    const tokens = await fleet(t);
    const response = await fetch(consoleUrl(t, "api/events"), {
      headers: { authorization: `Bearer ${tokens.viewer}` },
      signal: abort.signal,
    });
    const events = sseReader(response.body!);
    await events.next("snapshot");
    await t.controller().revokeToken({
      token: tokens.viewer,
      targetType: "CONTROLLER",
    });
    // The refresh (5 s) re-checks the token.
    const error = await events.next("error", 8000);
    assert.equal(error.code, "UNAUTHORIZED");
    assert.match(String(error.message), /revoked/);
    assert.equal(await events.ended(), true);
  } finally {
    abort.abort();
    await t.close();
  }
});

Deno.test("console API: the metrics ring samples requests, errors, latency and devices", async () => {
  const t = await startTestRelay({ config: CONFIG });
  try {
    const tokens = await fleet(t);
    for (let i = 0; i < 5; i++) {
      await call(t, tokens.alpha, {
        device_id: "alpha-1",
        method: "echo",
        payload: "x",
      });
    }
    await call(t, tokens.alpha, { device_id: "strict", method: "echo" });
    type Sample = {
      requestsPerSecond: number;
      p50Seconds: number | null;
      devicesByTransport: Record<string, number>;
    };
    let samples: Sample[] = [];
    await eventually(
      async () => {
        const metrics = await get(t, "api/metrics", tokens.viewer);
        assert.equal(metrics.body.interval_ms, 100);
        assert.equal(metrics.body.capacity, 900);
        samples = metrics.body.samples as Sample[];
        return samples.some((s) => s.requestsPerSecond > 0) &&
          samples.at(-1)?.devicesByTransport.h2 === 2;
      },
      5000,
      "a sample with the calls and both devices",
    );
    const busy = samples.find((s) => s.requestsPerSecond > 0)!;
    assert.ok(busy.p50Seconds !== null && busy.p50Seconds > 0);
  } finally {
    await t.close();
  }
});
