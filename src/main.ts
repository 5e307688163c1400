// The `relay` command (`deno task relay ...`, the compiled dist/relay): the
// CLI over the composition root (src/compose/). The re-exports below keep
// the library's names here until its users move to mod.ts.
import { runCli } from "./cli/cli.ts";
import { cliWiring } from "./compose/cli_wiring.ts";

export { buildConfig, loadConfig } from "./config/load_config.ts";
export { DeviceAgent, echoHandler } from "./sdk/device_agent.ts";
export { MqttTunnelListener } from "./sdk/mqtt_tunnel_listener.ts";
export { ControllerClient } from "./sdk/controller_client.ts";
export { RelayError } from "./errors/relay_error.ts";
export type { RunningRelay } from "./cli/wiring.ts";
export { startRelay, type StartRelayOptions } from "./compose/relay_server.ts";
export { controllerConnector, deviceConnector } from "./compose/connectors.ts";
export { cliWiring as wiring };

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args, cliWiring));
}
