// `relay device`: the device agent as a command.
import { RelayError } from "../errors/relay_error.ts";
import { DeviceAgent, echoHandler } from "../sdk/device_agent.ts";
import {
  CLIENT_OPTIONS,
  clientTransport,
  keyValues,
  parseFlags,
  requireFlag,
  stringFlag,
} from "./cli_args.ts";
import type { CliWiring } from "./wiring.ts";

export const DEVICE_USAGE = `relay device --id ID --token CREDENTIAL [options]
  --relay HOST:PORT      relay gRPC address (default localhost:50051)
  --ca FILE              CA of the relay certificate (default <state-dir>/ca.pem)
  --token-file FILE      read the credential from a file instead of --token
  --metadata KEY=VALUE   device metadata, repeatable (e.g. region=eu-west)
  --echo                 answer every method with the request payload
  --insecure-plaintext   connect without TLS`;

export async function deviceCommand(
  args: string[],
  wiring: CliWiring,
): Promise<number> {
  const parsed = parseFlags(args, {
    ...CLIENT_OPTIONS,
    id: { type: "string" },
    token: { type: "string" },
    "token-file": { type: "string" },
    metadata: { type: "string", multiple: true },
    echo: { type: "boolean" },
  });
  const deviceId = requireFlag(parsed, "id");
  const tokenFile = stringFlag(parsed, "token-file");
  const token = tokenFile
    ? (await Deno.readTextFile(tokenFile)).trim()
    : requireFlag(parsed, "token");
  const agent = new DeviceAgent({
    connector: wiring.deviceConnector(await clientTransport(parsed)),
    deviceId,
    token,
    metadata: keyValues(parsed, "metadata"),
  });
  if (parsed.values.echo === true) {
    agent.handle("*", echoHandler);
  } else {
    agent.handle("*", (request) => {
      throw new RelayError(
        "METHOD_NOT_FOUND",
        `no handler for ${request.method} (start with --echo)`,
      );
    });
  }
  agent.onState((state) => {
    const error = state.error
      ? ` (${state.error.code}: ${state.error.message})`
      : "";
    const connection = state.connectionId
      ? ` connection=${state.connectionId}`
      : "";
    const resumed = state.state === "connected"
      ? ` resumed=${state.resumed}`
      : "";
    console.error(
      `device ${deviceId}: ${state.state} via ${state.transport}${connection}${resumed}${error}`,
    );
  });
  agent.start();
  const stopped = Promise.withResolvers<void>();
  const stop = () => stopped.resolve();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await stopped.promise;
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  await agent.close();
  return 0;
}
