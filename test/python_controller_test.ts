// Interoperability: an independent controller written in Python (grpcio)
// talks to the relay using only proto/relay/v1/relay.proto, the dev CA and
// the admin token. Needs python3 with grpcio and grpc_tools (or protoc);
// without them the test is ignored locally and fails under CI=true.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { startTestRelay } from "./harness.ts";

const SCRIPT = fileURLToPath(
  new URL("./python/controller.py", import.meta.url),
);
const DEVICE_ID = "py-dev-1";
const RUN_TIMEOUT_MS = 60_000;

interface PythonProbe {
  python?: string;
  reasons: string[];
}

/** The first interpreter that has grpcio and a proto compiler. */
async function findPython(): Promise<PythonProbe> {
  const candidates = [
    Deno.env.get("PYTHON"),
    "python3",
    // Debian's python3-grpcio lives here even when another python3 (pyenv) is first on PATH.
    "/usr/bin/python3",
  ].filter((c): c is string => c !== undefined && c !== "");
  const reasons: string[] = [];
  for (const python of new Set(candidates)) {
    try {
      const { code, stdout, stderr } = await new Deno.Command(python, {
        args: [SCRIPT, "--probe"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (code === 0) return { python, reasons };
      const out = new TextDecoder().decode(stdout) +
        new TextDecoder().decode(stderr);
      reasons.push(`${python}: ${out.trim()}`);
    } catch (error) {
      reasons.push(`${python}: ${(error as Error).message}`);
    }
  }
  return { reasons };
}

const probe = await findPython();
const inCi = Deno.env.get("CI") === "true";

Deno.test({
  name: "a Python grpcio controller lists devices and pipelines requests",
  // Visible as "ignored" on machines without the Python packages; CI installs them.
  ignore: probe.python === undefined && !inCi,
  async fn() {
    const python = probe.python;
    assert.ok(
      python !== undefined,
      "python3 with grpcio and grpc_tools is required under CI=true " +
        "(apt-get install python3-grpcio python3-grpc-tools):\n" +
        probe.reasons.join("\n"),
    );
    const t = await startTestRelay();
    try {
      // The Python controller has no E2E: its device accepts plaintext.
      await t.device(DEVICE_ID, { allowPlaintext: true });
      // The dev certificate is issued for "localhost", so dial it by that name.
      const port = t.relay.grpcAddress.slice(
        t.relay.grpcAddress.lastIndexOf(":") + 1,
      );
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
