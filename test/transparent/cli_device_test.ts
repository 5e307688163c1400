// The CLI device agent with a gRPC target (`relay device --grpc-target`,
// with --grpc-target-ca and --grpc-target-server-name for a TLS server), as
// its own process: a grpc-js client calls the device's server through the
// relay; once per device transport.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parseHostPort } from "../../src/config/host_port.ts";
import { startTestRelay, TRANSPORTS } from "../harness.ts";
import { clientFor, grpc } from "./relay_grpc_client.ts";
import { JsTestServer } from "./js_test_server.ts";
import { TARGET_SERVER_NAME, targetTls } from "./target_tls.ts";
import { testsvc } from "./testsvc_client.ts";

const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url));
const DEVICE_ID = "cli-grpc-dev";
const CONNECT_TIMEOUT_MS = 20_000;

/** Resolves when the text read from `stream` matches `pattern`. */
function waitForText(
  stream: ReadableStream<Uint8Array>,
  pattern: RegExp,
): { matched: Promise<void>; done: Promise<string> } {
  let text = "";
  const { promise: matched, resolve, reject } = Promise.withResolvers<void>();
  const timer = setTimeout(
    () => reject(new Error(`no ${pattern} in:\n${text}`)),
    CONNECT_TIMEOUT_MS,
  );
  const done = (async () => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      if (pattern.test(text)) {
        clearTimeout(timer);
        resolve();
      }
    }
    clearTimeout(timer);
    reject(new Error(`ended without ${pattern}:\n${text}`));
    return text;
  })();
  return { matched, done };
}

for (const transport of TRANSPORTS) {
  Deno.test(`transparent calls: relay device --grpc-target with a TLS target [${transport}]`, async () => {
    const tls = await targetTls();
    const server = await JsTestServer.start({ tls });
    const t = await startTestRelay({ transport });
    const dir = await Deno.makeTempDir({ prefix: "cli-grpc-target-" });
    const client = clientFor(t);
    let device: Deno.ChildProcess | undefined;
    try {
      await Deno.writeTextFile(`${dir}/token`, t.registerDevice(DEVICE_ID));
      await Deno.writeTextFile(`${dir}/target-ca.pem`, tls.caPem);
      const { port } = parseHostPort(t.relay.grpcAddress);
      const { port: quicPort } = parseHostPort(t.relay.quicAddress);
      device = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          MAIN,
          "device",
          "--id",
          DEVICE_ID,
          "--token-file",
          `${dir}/token`,
          "--e2e-key",
          `${dir}/device.e2e.json`,
          "--relay",
          `localhost:${port}`,
          "--quic-relay",
          `localhost:${quicPort}`,
          "--ca",
          t.relay.paths.caCert,
          "--transport",
          transport,
          "--grpc-target",
          server.address,
          "--grpc-target-ca",
          `${dir}/target-ca.pem`,
          "--grpc-target-server-name",
          TARGET_SERVER_NAME,
        ],
        stdout: "null",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).spawn();
      const log = waitForText(
        device.stderr,
        new RegExp(`${DEVICE_ID}: connected via ${transport}`),
      );
      log.done.catch(() => {});
      await log.matched;

      const { status, messages } = await testsvc(client).unary({
        deviceId: DEVICE_ID,
        token: t.relay.adminToken,
      }, { text: "from the cli device" }).result;
      assert.equal(status.code, grpc.status.OK, status.details);
      assert.equal(messages[0]?.text, "from the cli device");
      const listed = await t.controller().listDevices();
      assert.equal(
        listed.find((d) => d.device_id === DEVICE_ID)?.grpc_target,
        true,
      );

      device.kill("SIGTERM");
      assert.equal((await device.status).code, 0);
      await log.done.catch(() => {});
      device = undefined;
    } finally {
      if (device !== undefined) {
        device.kill("SIGKILL");
        await device.status;
        await device.stderr.cancel().catch(() => {});
      }
      client.close();
      await t.close();
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
