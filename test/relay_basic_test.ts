import assert from "node:assert/strict";
import * as tls from "node:tls";
import { deviceConnector } from "../mod.ts";
import { parseHostPort } from "../src/config/host_port.ts";
import { RelayError } from "../src/errors/relay_error.ts";
import { contractTest, decode, encode, startTestRelay } from "./harness.ts";

contractTest(
  "device registers over TLS and echoes a controller request",
  {},
  async (t) => {
    const agent = await t.device("dev-1", { metadata: { region: "eu" } });
    assert.match(agent.state.connectionId, /^conn_/);
    const controller = t.controller();
    const devices = await controller.listDevices();
    assert.equal(devices.length, 1);
    assert.equal(devices[0]!.device_id, "dev-1");
    assert.equal(devices[0]!.state, "ONLINE");
    assert.equal(devices[0]!.transport, t.transport);
    const reply = await controller.call("dev-1", "echo", encode("hello"));
    assert.equal(decode(reply), "hello");
    await assert.rejects(
      controller.call("nope", "echo", encode("x")),
      (error: RelayError) => error.code === "DEVICE_NOT_FOUND",
    );
  },
);

Deno.test("the gRPC listener speaks TLS 1.3 only", async () => {
  const t = await startTestRelay();
  try {
    const { port } = parseHostPort(t.relay.grpcAddress);
    const handshake = (maxVersion: "TLSv1.2" | "TLSv1.3") =>
      new Promise<string>((resolve, reject) => {
        const socket = tls.connect({
          host: "127.0.0.1",
          port,
          servername: "localhost",
          ca: t.relay.caPem,
          ALPNProtocols: ["h2"],
          maxVersion,
        }, () => {
          const protocol = socket.getProtocol() ?? "";
          socket.destroy();
          resolve(protocol);
        });
        socket.on("error", reject);
      });
    assert.equal(await handshake("TLSv1.3"), "TLSv1.3");
    await assert.rejects(handshake("TLSv1.2"));
  } finally {
    await t.close();
  }
});

contractTest(
  "devices in one process each have their own connection to the relay",
  {},
  async (t) => {
    // Verified by name, as in production (an IP target gets per-client checks).
    const options = { ...t.clientOptions, serverName: "localhost" };
    await t.device("own-conn-1", { connector: deviceConnector(options) });
    await t.device("own-conn-2", { connector: deviceConnector(options) });
    const remotes = t.logLines
      .filter((line) => line.includes('"msg":"device registered"'))
      .map((line) => JSON.parse(line).remote as string);
    assert.equal(remotes.length, 2);
    // A shared HTTP/2 connection would show one source port for both.
    assert.notEqual(remotes[0], remotes[1]);
  },
);
