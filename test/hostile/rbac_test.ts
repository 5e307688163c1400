// Hostile input against RBAC: a viewer sending, an operator reaching into
// another project (answered exactly like a device that does not exist),
// listing other projects' devices, and the per-role method allow-list.
import assert from "node:assert/strict";
import type { RelayError } from "../../src/errors/relay_error.ts";
import { decode, encode } from "../harness.ts";
import { hostileTest, PLAINTEXT } from "./hostile_case.ts";
import { assertStillServes } from "./still_serves.ts";

hostileTest("rbac: a viewer sending a request", {}, async (t) => {
  const agent = await t.device("rbac-dev", { echo: false });
  let delivered = 0;
  agent.handle("*", (request) => {
    delivered++;
    return request.payload;
  });
  const viewer = await t.token("viewer", {
    id: "rbac-viewer",
    projects: ["default"],
  });
  const response = await t.controller(viewer, PLAINTEXT).openSession("rbac-dev")
    .request(
      "echo",
      encode("viewer payload"),
    );
  assert.equal(response.error, "PERMISSION_DENIED");
  assert.match(response.error_message, /viewer/);
  assert.equal(response.encrypted_payload.byteLength, 0);
  assert.equal(delivered, 0, "the request never reached the device");
  // The viewer may still list its project's devices.
  const listed = await t.controller(viewer).listDevices();
  assert.deepEqual(listed.map((d) => d.device_id), ["rbac-dev"]);
  await assertStillServes(t);
});

hostileTest(
  "rbac: an operator reaching another project's device learns nothing",
  {},
  async (t) => {
    const agent = await t.device("p2-online", {
      token: t.registerDevice("p2-online", "p2"),
      echo: false,
    });
    let delivered = 0;
    agent.handle("*", () => {
      delivered++;
      return encode("leaked");
    });
    t.registerDevice("p2-offline", "p2");
    const operator = await t.token("operator", {
      id: "rbac-op1",
      projects: ["p1"],
    });
    const ask = (deviceId: string) =>
      t.controller(operator, PLAINTEXT).openSession(deviceId).request(
        "echo",
        encode("x"),
        { sequenceNumber: 77 },
      );
    const online = await ask("p2-online");
    const offline = await ask("p2-offline");
    const missing = await ask("no-such-device");
    for (const response of [online, offline, missing]) {
      assert.equal(response.error, "UNAUTHORIZED");
      assert.equal(
        response.error_message,
        "device not found or not accessible",
      );
      assert.equal(response.encrypted_payload.byteLength, 0);
    }
    // Byte-identical apart from the echoed device id.
    const strip = (r: typeof online) => ({ ...r, device_id: "" });
    assert.deepEqual(strip(online), strip(missing));
    assert.deepEqual(strip(offline), strip(missing));
    assert.equal(delivered, 0, "the request never reached the device");
    await assertStillServes(t);
  },
);

hostileTest(
  "rbac: ListOnlineDevices for an operator shows only its projects",
  {},
  async (t) => {
    for (
      const [id, project] of [["l-p1a", "p1"], ["l-p1b", "p1"], [
        "l-p2",
        "p2",
      ], ["l-p3", "p3"]]
    ) {
      await t.device(id!, { token: t.registerDevice(id!, project) });
    }
    const ids = async (projects: string[]) =>
      (await t.controller(
        await t.token("operator", { id: "lister", projects }),
      ).listDevices()).map((d) => d.device_id).sort();
    assert.deepEqual(await ids(["p1"]), ["l-p1a", "l-p1b"]);
    assert.deepEqual(await ids(["p1", "p3"]), ["l-p1a", "l-p1b", "l-p3"]);
    assert.deepEqual(await ids(["nope"]), []);
    assert.deepEqual(await ids([]), []);
    // Filters do not widen the view.
    const filtered = await t.controller(
      await t.token("operator", { id: "lister", projects: ["p1"] }),
    ).listDevices({ labels: {}, region: "" });
    assert.deepEqual(filtered.map((d) => d.device_id).sort(), [
      "l-p1a",
      "l-p1b",
    ]);
    for (const device of filtered) assert.equal(device.project, "p1");
    await assertStillServes(t);
  },
);

hostileTest(
  "rbac: method allow-list for operators",
  { config: { "relay.auth.roles.operator.allowed_methods": ["status.*"] } },
  async (t) => {
    const agent = await t.device("allow-dev", { echo: false });
    const delivered: string[] = [];
    agent.handle("*", (request) => {
      delivered.push(request.method);
      return request.payload;
    });
    const operator = await t.token("operator", {
      id: "allow-op",
      projects: ["default"],
    });
    const session = t.controller(operator, PLAINTEXT).openSession("allow-dev");
    for (const method of ["reboot", "statusXget", "status", "STATUS.get"]) {
      const denied = await session.request(method, encode("x"));
      assert.equal(denied.error, "PERMISSION_DENIED", `${method}: code`);
      assert.match(denied.error_message, /method/i, `${method}: message`);
    }
    assert.equal(
      decode(await session.call("status.get", encode("allowed"))),
      "allowed",
    );
    assert.deepEqual(delivered, ["status.get"], "denied calls never arrived");
    // Admins keep their default allow-list ("*").
    assert.equal(
      decode(
        await t.controller(undefined, PLAINTEXT).call(
          "allow-dev",
          "reboot",
          encode("ok"),
        ),
      ),
      "ok",
    );
    // A viewer stays read-only, allowed method or not.
    const viewer = await t.token("viewer", { projects: ["default"] });
    await assert.rejects(
      t.controller(viewer, PLAINTEXT).call(
        "allow-dev",
        "status.get",
        encode("x"),
      ),
      (error: RelayError) => error.code === "PERMISSION_DENIED",
    );
    await assertStillServes(t);
  },
);
