// mod.ts, the library's public face: the names it promises, and one echo
// request from a ControllerClient to a DeviceAgent through a relay started
// with its startRelay, all taken from mod.ts alone (only the device's
// registration, which the CLI does in production, reaches into the store).
import assert from "node:assert/strict";
import * as relay from "../mod.ts";
import {
  buildConfig,
  ControllerClient,
  controllerConnector,
  DeviceAgent,
  deviceConnector,
  echoHandler,
  Logger,
  RelayError,
  startRelay,
  type TransportChoice,
} from "../mod.ts";
import { RelayStore } from "../src/store/relay_store.ts";

Deno.test("mod.ts exports the SDK, the connectors and the relay's entry points", () => {
  const functions = [
    "startRelay",
    "loadConfig",
    "buildConfig",
    "deviceConnector",
    "controllerConnector",
    "echoHandler",
    "generateDeviceKey",
    "grpcTarget",
  ] as const;
  for (const name of functions) {
    assert.equal(typeof relay[name], "function", name);
  }
  const classes = [
    "DeviceAgent",
    "ControllerClient",
    "MqttTunnelListener",
    "RelayError",
    "Logger",
    "MemoryKnownKeys",
    "KnownDevicesFile",
  ] as const;
  for (const name of classes) {
    assert.equal(typeof relay[name], "function", name);
  }
  assert.deepEqual(
    Object.keys(relay).sort(),
    [...functions, ...classes].sort(),
    "mod.ts exports exactly these values (types aside)",
  );
  // The CLI entry stays out of the library.
  assert.equal("wiring" in relay, false);
  assert.equal("cliWiring" in relay, false);
});

for (const transport of ["h2", "quic"] satisfies TransportChoice[]) {
  Deno.test(`a DeviceAgent and a ControllerClient from mod.ts echo through startRelay (${transport})`, async () => {
    const stateDir = await Deno.makeTempDir({ prefix: "relay-public-api-" });
    const running = await startRelay(
      buildConfig({}, {}, {
        "relay.address": "127.0.0.1:0",
        "relay.quic_address": "127.0.0.1:0",
        "relay.state_dir": stateDir,
        "relay.mqtt.embedded_address": "127.0.0.1:0",
        "observability.health.address": "127.0.0.1:0",
        "relay.shutdown_grace_seconds": 1,
      }),
      { logger: new Logger({ level: "error", write: () => {} }) },
    );
    const transportOptions = {
      address: running.grpcAddress,
      quicAddress: running.quicAddress,
      caPem: running.caPem,
      transport,
    };
    const store = new RelayStore(running.paths.database);
    const credential = store.registerDevice("dev-api", "default");
    store.close();
    const agent = new DeviceAgent({
      connector: deviceConnector(transportOptions),
      deviceId: "dev-api",
      token: credential,
    }).handle("echo", echoHandler);
    const client = new ControllerClient({
      connector: controllerConnector(transportOptions),
      token: running.adminToken,
    });
    try {
      const connected = agent.waitFor("connected");
      agent.start();
      await connected;
      assert.equal(agent.state.transport, transport);
      const reply = await client.call(
        "dev-api",
        "echo",
        new TextEncoder().encode("hello"),
      );
      assert.equal(new TextDecoder().decode(reply), "hello");
      assert.equal(client.encrypted, true);
      await assert.rejects(
        client.call("nobody", "echo", new Uint8Array()),
        (error) =>
          error instanceof RelayError && error.code === "DEVICE_NOT_FOUND",
      );
    } finally {
      await client.close();
      await agent.close();
      await running.shutdown();
      await Deno.remove(stateDir, { recursive: true });
    }
  });
}
