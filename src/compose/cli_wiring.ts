// What the CLI (src/cli/) gets from the composition root: a relay to serve
// the connectors for `relay device` and `relay ctl`, and the gRPC target
// client for `relay device --grpc-target`.
import type { CliWiring } from "../cli/wiring.ts";
import { controllerConnector, deviceConnector } from "./connectors.ts";
import { startRelay } from "./relay_server.ts";
import { grpcTarget } from "../../transports/grpc/grpc_target_client.ts";

export const cliWiring: CliWiring = {
  startRelay: (config, logger) => startRelay(config, { logger }),
  deviceConnector,
  controllerConnector,
  grpcTarget,
};
