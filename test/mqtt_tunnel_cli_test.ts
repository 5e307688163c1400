// `relay device --mqtt-listen HOST:PORT` as a real process: a mosquitto_pub
// connected to the device's listener publishes through the relay.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  connectMqtt,
  mosquittoArgs,
  nextMessage,
  runCommand,
  tools,
  withTunnel,
} from "./mqtt_tunnel_fixture.ts";
import { MOSQUITTO_CLIENTS } from "./system_tools.ts";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));

tools.test({
  name: "relay device --mqtt-listen serves MQTT clients through the relay",
  needs: [MOSQUITTO_CLIENTS],
  fn: async () => {
    await withTunnel({ transport: "quic", broker: "embedded" }, async (f) => {
      const keyDir = await Deno.makeTempDir({ prefix: "mqtt-cli-" });
      const device = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          MAIN,
          "device",
          "--id",
          "cli-mqtt",
          "--token",
          f.t.registerDevice("cli-mqtt"),
          "--e2e-key",
          `${keyDir}/key.json`,
          "--relay",
          f.t.relay.grpcAddress,
          "--quic-relay",
          f.t.relay.quicAddress,
          "--ca",
          f.t.relay.caPath,
          "--mqtt-listen",
          "127.0.0.1:0",
        ],
        stdout: "null",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).spawn();
      const outside = await connectMqtt(f.broker.url, 4);
      let stderr = "";
      const lines = device.stderr.pipeThrough(new TextDecoderStream());
      const reading = (async () => {
        for await (const chunk of lines) stderr += chunk;
      })();
      try {
        const deadline = Date.now() + 15_000;
        let port: string | undefined;
        while (port === undefined || !/connected via quic/.test(stderr)) {
          assert.ok(
            Date.now() < deadline,
            `no listener/connection in:\n${stderr}`,
          );
          port = /MQTT listener on 127\.0\.0\.1:(\d+)/.exec(stderr)?.[1];
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await outside.subscribeAsync("device/cli-mqtt/#", { qos: 1 });
        const got = nextMessage(outside, "device/cli-mqtt/hello");
        const pub = await runCommand(tools.path("mosquitto_pub"), [
          ...mosquittoArgs(Number(port), "311"),
          "-q",
          "1",
          "-t",
          "device/cli-mqtt/hello",
          "-m",
          "from the cli",
        ]);
        assert.equal(pub.code, 0, pub.stderr);
        assert.equal((await got).payload, "from the cli");
        // The agent ("auto") is on QUIC, so its tunnels are too.
        assert.ok(
          f.t.logLines.some((line) =>
            line.includes('"msg":"tunnel opened","device_id":"cli-mqtt"') &&
            line.includes('"transport":"quic"')
          ),
        );
      } finally {
        await outside.endAsync();
        device.kill("SIGTERM");
        const status = await device.status;
        await reading;
        await Deno.remove(keyDir, { recursive: true });
        assert.equal(status.code, 0, stderr);
      }
    });
  },
});
