// An ordinary Python grpcio client (py_test_client.py) calls the device's
// own service through the relay: unary, bidi, a status error with trailers,
// metadata filtering, and a call without relay-device-id. The device's
// server is py_test_server.py; both device transports.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parseHostPort } from "../../src/config/host_port.ts";
import { SystemTools } from "../system_tools.ts";
import { PYTHON_GRPC, pythonServer, rigTest } from "./transparent_rig.ts";

const SCRIPT = fileURLToPath(new URL("./py_test_client.py", import.meta.url));
const RUN_TIMEOUT_MS = 60_000;
const tools = await SystemTools.check(PYTHON_GRPC);

rigTest(
  "transparent calls: a Python grpcio client through the relay (unary, bidi, status error)",
  pythonServer(tools),
  async ({ t, deviceId }) => {
    // The dev certificate names "localhost"; grpcio checks it by that name.
    const { port } = parseHostPort(t.relay.grpcAddress);
    const { code, stdout, stderr } = await new Deno.Command(
      tools.path("python"),
      {
        args: [
          SCRIPT,
          `localhost:${port}`,
          t.relay.paths.caCert,
          t.relay.paths.adminToken,
          deviceId,
        ],
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(RUN_TIMEOUT_MS),
      },
    ).output();
    const output = new TextDecoder().decode(stdout);
    const errors = new TextDecoder().decode(stderr);
    assert.equal(
      code,
      0,
      `py_test_client.py exited ${code}\n${output}\n${errors}`,
    );
    assert.match(output, /^ok: Unary echoed$/m);
    assert.match(output, /^ok: bidi echoed 5 messages one by one$/m);
    assert.match(output, /^ok: Fail answered FAILED_PRECONDITION/m);
    assert.match(output, /^PASS$/m);
  },
);
