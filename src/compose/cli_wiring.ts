// What the CLI (src/cli/) gets from the composition root: a relay to serve
// and the connectors for `relay device` and `relay ctl`.
import type { CliWiring } from "../cli/wiring.ts";
import { controllerConnector, deviceConnector } from "./connectors.ts";
import { startRelay } from "./relay_server.ts";

export const cliWiring: CliWiring = {
  startRelay: (config, logger) => startRelay(config, { logger }),
  deviceConnector,
  controllerConnector,
};
