// Transparent calls the relay refuses, with the status it gives: no
// relay-device-id, no or a bad token, a viewer, an operator of another
// project (NOT_FOUND, worded as for an unknown device), a method outside the
// operator's allow-list, an offline device, a device without a gRPC target,
// a target that refuses connections, a message over the size limit.
import assert from "node:assert/strict";
import { grpc } from "./relay_grpc_client.ts";
import { JsTestServer } from "./js_test_server.ts";
import { methodPath } from "./testsvc_proto.ts";
import { type RigOptions, rigTest } from "./transparent_rig.ts";

const KIB = 1024;
const OPTIONS: RigOptions<JsTestServer> = {
  server: () => JsTestServer.start(),
  config: {
    "relay.auth.roles.operator.allowed_methods": [methodPath("Unary")],
    "relay.request.max_payload_bytes": 64 * KIB,
  },
};

rigTest(
  "transparent refusals: a call without relay-device-id is UNIMPLEMENTED, naming the key",
  OPTIONS,
  async ({ svc, target }) => {
    const { status } = await svc.unary(target({ deviceId: undefined }), {
      text: "x",
    }).result;
    assert.equal(status.code, grpc.status.UNIMPLEMENTED, status.details);
    assert.match(status.details, /relay-device-id/);
  },
);

rigTest(
  "transparent refusals: no token or a bad one is UNAUTHENTICATED, a viewer PERMISSION_DENIED",
  OPTIONS,
  async ({ t, svc, target, server }) => {
    const missing = await svc.unary(target({ token: undefined }), {}).result;
    assert.equal(missing.status.code, grpc.status.UNAUTHENTICATED);
    const bad = await svc.unary(target({ token: "not-a-jwt" }), {}).result;
    assert.equal(bad.status.code, grpc.status.UNAUTHENTICATED);
    const viewer = await t.token("viewer", { projects: ["default"] });
    const denied = await svc.unary(target({ token: viewer }), {}).result;
    assert.equal(denied.status.code, grpc.status.PERMISSION_DENIED);
    assert.equal(server.counts.unary, 0, "no refused call reached the device");
  },
);

rigTest(
  "transparent refusals: another project's device and an unknown device are NOT_FOUND alike",
  OPTIONS,
  async ({ t, svc, target, deviceId, server }) => {
    const outsider = await t.token("operator", { projects: ["other"] });
    const hidden = await svc.unary(target({ token: outsider }), {}).result;
    assert.equal(hidden.status.code, grpc.status.NOT_FOUND);
    const unknownId = "no-such-device";
    const unknown = await svc.unary(target({ deviceId: unknownId }), {})
      .result;
    assert.equal(unknown.status.code, grpc.status.NOT_FOUND);
    const unknownToOutsider = await svc.unary(
      target({ deviceId: unknownId, token: outsider }),
      {},
    ).result;
    assert.equal(unknownToOutsider.status.code, grpc.status.NOT_FOUND);
    // The same words, whether the device exists elsewhere or not at all.
    const worded = (details: string, id: string) =>
      details.replaceAll(id, "<device>");
    assert.equal(
      worded(hidden.status.details, deviceId),
      worded(unknown.status.details, unknownId),
    );
    assert.equal(
      worded(hidden.status.details, deviceId),
      worded(unknownToOutsider.status.details, unknownId),
    );
    assert.equal(server.counts.unary, 0);
  },
);

rigTest(
  "transparent refusals: a method outside the operator's allow-list is PERMISSION_DENIED",
  OPTIONS,
  async ({ t, svc, target }) => {
    const operator = await t.token("operator", { projects: ["default"] });
    const allowed = await svc.unary(target({ token: operator }), {
      text: "in the list",
    }).result;
    assert.equal(allowed.status.code, grpc.status.OK, allowed.status.details);
    assert.equal(allowed.messages[0]?.text, "in the list");
    const refused = await svc.metadata(target({ token: operator }), {}).result;
    assert.equal(refused.status.code, grpc.status.PERMISSION_DENIED);
    // The admin's list is the default "*": the call reaches the device,
    // whose server does not implement Metadata.
    const admin = await svc.metadata(target(), {}).result;
    assert.equal(admin.status.code, grpc.status.UNIMPLEMENTED);
  },
);

rigTest(
  "transparent refusals: offline device UNAVAILABLE, no gRPC target UNIMPLEMENTED, refusing target UNAVAILABLE",
  OPTIONS,
  async ({ t, svc, target, addDevice }) => {
    t.registerDevice("offline-dev");
    const offline = await svc.unary(target({ deviceId: "offline-dev" }), {})
      .result;
    assert.equal(offline.status.code, grpc.status.UNAVAILABLE);

    await addDevice("plain-dev", null);
    const plain = await svc.unary(target({ deviceId: "plain-dev" }), {})
      .result;
    assert.equal(plain.status.code, grpc.status.UNIMPLEMENTED);

    await addDevice("refusing-dev", { address: closedPort() });
    const refusing = await svc.unary(target({ deviceId: "refusing-dev" }), {})
      .result;
    assert.equal(
      refusing.status.code,
      grpc.status.UNAVAILABLE,
      refusing.status.details,
    );
  },
);

rigTest(
  "transparent refusals: a message over the relay's limit is RESOURCE_EXHAUSTED",
  OPTIONS,
  async ({ svc, target, server }) => {
    const under = await svc.unary(target(), {
      payload: new Uint8Array(60 * KIB),
    }).result;
    assert.equal(under.status.code, grpc.status.OK, under.status.details);
    const over = await svc.unary(target(), {
      payload: new Uint8Array(100 * KIB),
    }).result;
    assert.equal(over.status.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(server.counts.unary, 1, "only the first call reached it");
  },
);

/** 127.0.0.1:<port> where nothing listens (a listener bound, then closed). */
function closedPort(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return `127.0.0.1:${port}`;
}
