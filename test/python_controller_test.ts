// Interoperability: an independent controller written in Python (grpcio)
// talks to the relay using only proto/relay/v1/relay.proto, the dev CA and
// the admin token. Needs python3 with grpcio and grpc_tools (or protoc):
// test/system_tools.ts finds it (and skips or fails the test without it).
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parseHostPort } from "../src/config/host_port.ts";
import { startTestRelay } from "./harness.ts";
import { PYTHON_GRPC, SystemTools } from "./system_tools.ts";

const SCRIPT = fileURLToPath(
  new URL("./python/controller.py", import.meta.url),
);
const DEVICE_ID = "py-dev-1";
const RUN_TIMEOUT_MS = 60_000;

const tools = await SystemTools.check(PYTHON_GRPC);

tools.test({
  name: "a Python grpcio controller lists devices and pipelines requests",
  async fn() {
    const python = tools.path("python");
    const t = await startTestRelay();
    try {
      // The Python controller has no E2E: its device accepts plaintext.
      await t.device(DEVICE_ID, { allowPlaintext: true });
      // The dev certificate is issued for "localhost", so dial it by that name.
      const { port } = parseHostPort(t.relay.grpcAddress);
      const { code, stdout, stderr } = await new Deno.Command(python, {
        args: [
          SCRIPT,
          `localhost:${port}`,
          t.relay.paths.caCert,
          t.relay.paths.adminToken,
          DEVICE_ID,
          "--requests",
          "8",
        ],
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(RUN_TIMEOUT_MS),
      }).output();
      const output = new TextDecoder().decode(stdout);
      const errors = new TextDecoder().decode(stderr);
      assert.equal(
        code,
        0,
        `controller.py exited with ${code}\n${output}\n${errors}`,
      );
      assert.match(output, /device py-dev-1 is ONLINE/);
      assert.match(
        output,
        /8 pipelined requests echoed with error OK \(open until answered\)/,
      );
      assert.match(
        output,
        /8 pipelined requests echoed with error OK \(half-closed after sending\)/,
      );
      assert.match(output, /unknown device answered with DEVICE_NOT_FOUND/);
      assert.match(output, /^PASS: /m);
    } finally {
      await t.close();
    }
  },
});
