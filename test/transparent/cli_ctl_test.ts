// `relay ctl grpc` and `relay ctl call-many` as processes: raw request bytes
// in, the device server's response bytes out; a per-device line for each
// device and exit status 1 when one of them failed. The devices' agents keep
// their echo handler next to the gRPC target.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { fileURLToPath } from "node:url";
import { grpcTarget } from "../../mod.ts";
import { startTestRelay } from "../harness.ts";
import { JsTestServer } from "./js_test_server.ts";
import { type EchoReply, methodPath, testService } from "./testsvc_proto.ts";

const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url));

async function ctl(args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, "ctl", ...args],
    env: { NO_COLOR: "1" },
  }).output();
  return {
    code: output.code,
    stdout: output.stdout,
    stderr: new TextDecoder().decode(output.stderr),
  };
}

const echoText = (bytes: Uint8Array) =>
  (testService().Unary!.responseDeserialize(Buffer.from(bytes)) as EchoReply)
    .text;

Deno.test("relay ctl grpc and ctl call-many: raw bytes through a device's own gRPC server", async () => {
  const server = await JsTestServer.start();
  const t = await startTestRelay({ transport: "h2" });
  const dir = await Deno.makeTempDir({ prefix: "ctl-grpc-" });
  try {
    const target = () => grpcTarget({ address: server.address });
    await t.device("eu-1", {
      grpcTarget: target(),
      metadata: { region: "eu" },
    });
    await t.device("eu-2", {
      grpcTarget: target(),
      metadata: { region: "eu" },
    });
    // No gRPC target: its call-many line says UNIMPLEMENTED.
    await t.device("eu-plain", { metadata: { region: "eu" } });
    await t.device("us-1", {
      grpcTarget: target(),
      metadata: { region: "us" },
    });
    const request = `${dir}/request.bin`;
    await Deno.writeFile(
      request,
      testService().Unary!.requestSerialize({ text: "from ctl" }),
    );
    const common = [
      "--relay",
      t.relay.grpcAddress,
      "--ca",
      t.relay.paths.caCert,
      "--token",
      t.relay.adminToken,
      "--transport",
      "h2",
    ];

    const one = await ctl([
      "grpc",
      "eu-1",
      methodPath("Unary"),
      "--data-file",
      request,
      ...common,
    ]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(echoText(one.stdout), "from ctl");

    // The same agent still answers relay requests with its handlers.
    const envelope = await ctl([
      "call",
      "eu-1",
      "echo",
      "--data",
      "envelope",
      "--plaintext",
      ...common,
    ]);
    assert.equal(envelope.code, 0, envelope.stderr);
    assert.equal(new TextDecoder().decode(envelope.stdout), "envelope");

    const unknownMethod = await ctl([
      "grpc",
      "eu-1",
      methodPath("NoSuchMethod"),
      "--data-file",
      request,
      ...common,
    ]);
    assert.equal(unknownMethod.code, 1);
    assert.match(unknownMethod.stderr, /UNIMPLEMENTED \(12\)/);

    const many = await ctl([
      "call-many",
      "--label",
      "region=eu",
      methodPath("Unary"),
      "us-1",
      "--data-file",
      request,
      "--json",
      ...common,
    ]);
    assert.equal(many.code, 1, "eu-plain failed, so the exit status is 1");
    const lines = new TextDecoder().decode(many.stdout).trim().split("\n")
      .map((line) => JSON.parse(line));
    const byDevice = new Map(lines.map((line) => [line.device_id, line]));
    assert.deepEqual(
      [...byDevice.keys()].sort(),
      ["eu-1", "eu-2", "eu-plain", "us-1"],
    );
    for (const id of ["eu-1", "eu-2", "us-1"]) {
      assert.equal(byDevice.get(id).status, "OK", id);
      assert.equal(
        echoText(Buffer.from(byDevice.get(id).response_base64, "base64")),
        "from ctl",
      );
    }
    assert.equal(byDevice.get("eu-plain").status, "UNIMPLEMENTED");
    assert.match(byDevice.get("eu-plain").message, /--grpc-target/);
    assert.match(many.stderr, /3 of 4 devices answered OK/);

    const usage = await ctl(["call-many", methodPath("Unary"), ...common]);
    assert.equal(usage.code, 1);
    assert.match(usage.stderr, /name devices, labels or both/);
  } finally {
    await t.close();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
