// A device's local gRPC server over TLS: the agent's gRPC target verifies
// it with its own CA (caPem) under a server name that differs from the
// address (serverName); with the wrong name the call fails UNAVAILABLE.
import assert from "node:assert/strict";
import { grpcTarget } from "../../mod.ts";
import { grpc } from "./relay_grpc_client.ts";
import { JsTestServer } from "./js_test_server.ts";
import { TARGET_SERVER_NAME, targetTls } from "./target_tls.ts";
import { rigTest } from "./transparent_rig.ts";

const tls = await targetTls();

rigTest(
  "transparent calls: a TLS target verified with its CA and server name",
  // The rig's own device (a plaintext target) is not called here.
  { server: () => JsTestServer.start({ tls }) },
  async ({ t, svc, target, server }) => {
    await t.device("tls-dev", {
      echo: false,
      grpcTarget: grpcTarget({
        address: server.address,
        caPem: tls.caPem,
        serverName: TARGET_SERVER_NAME,
      }),
    });
    const ok = await svc.unary(target({ deviceId: "tls-dev" }), {
      text: "over tls",
    }).result;
    assert.equal(ok.status.code, grpc.status.OK, ok.status.details);
    assert.equal(ok.messages[0]?.text, "over tls");

    await t.device("wrong-name-dev", {
      echo: false,
      grpcTarget: grpcTarget({
        address: server.address,
        caPem: tls.caPem,
        serverName: "someone-else.test",
      }),
    });
    const refused = await svc.unary(target({ deviceId: "wrong-name-dev" }), {
      text: "x",
    }).result;
    assert.equal(refused.status.code, grpc.status.UNAVAILABLE);
    assert.equal(server.counts.unary, 1);
  },
);
