// `relay device`: the device agent as a command.
import { readTrustedControllers } from "../e2e/trusted_controllers_file.ts";
import { join } from "node:path";
import { loadOrCreateDeviceKeyFile } from "../e2e/device_key.ts";
import { RelayError } from "../errors/relay_error.ts";
import { validateDeviceId } from "../auth/device_id.ts";
import { DeviceAgent, echoHandler } from "../sdk/device_agent.ts";
import {
  CLIENT_OPTIONS,
  CLIENT_USAGE,
  clientTransport,
  keyValues,
  parseFlags,
  requireFlag,
  stringFlag,
} from "./cli_args.ts";
import type { CliWiring } from "./wiring.ts";
import type { GrpcTarget } from "../sdk/grpc_target.ts";
import { parseHostPort } from "../config/host_port.ts";
import { MQTT_LISTEN_USAGE, startMqttListener } from "./device_mqtt_listen.ts";
import {
  IDEMPOTENCY_OPTIONS,
  IDEMPOTENCY_USAGE,
  parseIdempotencyFlags,
} from "./device_idempotency.ts";
import {
  parseStatusFlag,
  parseTelemetryInterval,
  startDeviceReporting,
} from "./device_reporting.ts";

export const DEVICE_USAGE =
  `relay device --id ID (--token CREDENTIAL | --token-file FILE) [options]
  --token-file FILE      read the credential from a file (keeps it off the command line)
  --metadata KEY=VALUE   device metadata, repeatable (e.g. region=eu-west)
  --echo                 answer every method with the request payload
  --e2e-key FILE         the device's end-to-end encryption key pair (JWK, mode 0600;
                         created when missing; default .relay-device/<id>.e2e.json)
  --allow-plaintext      also accept requests that are not end-to-end encrypted
  --trusted-controllers FILE
                         accept only requests sealed with these controller keys: lines of
                         "<controller-id or *> SHA256:..." (relay ctl key prints a controller's)
  --grpc-target HOST:PORT
                         the device's own gRPC server: controllers call its methods
                         through the relay unchanged (relay-device-id metadata names
                         this device); plaintext unless one of the next two is set
  --grpc-target-ca FILE  PEM of the CA that issued the target's certificate (TLS)
  --grpc-target-server-name NAME
                         TLS server name of the target when not its host
  --status JSON          the device's status (a JSON object), published through the relay
                         on MQTT device/<id>/status (QoS 1, retained) at every (re)connect
  --telemetry-interval D publish built-in telemetry (uptime, transport, requests handled,
                         memory) on MQTT telemetry/<id> every D while connected (e.g. 30s)
${IDEMPOTENCY_USAGE}
${MQTT_LISTEN_USAGE}
${CLIENT_USAGE}
Exits with status 1 when the relay refuses the credential before ever connecting.`;

/** Where `relay device` keeps a device's key pair unless --e2e-key says otherwise. */
export function defaultKeyPath(deviceId: string): string {
  return join(".relay-device", `${deviceId}.e2e.json`);
}

export async function deviceCommand(
  args: string[],
  wiring: CliWiring,
): Promise<number> {
  const parsed = parseFlags(args, {
    ...CLIENT_OPTIONS,
    ...IDEMPOTENCY_OPTIONS,
    id: { type: "string" },
    token: { type: "string" },
    "token-file": { type: "string" },
    metadata: { type: "string", multiple: true },
    echo: { type: "boolean" },
    "e2e-key": { type: "string" },
    "allow-plaintext": { type: "boolean" },
    "trusted-controllers": { type: "string" },
    status: { type: "string" },
    "telemetry-interval": { type: "string" },
    "mqtt-listen": { type: "string" },
    "grpc-target": { type: "string" },
    "grpc-target-ca": { type: "string" },
    "grpc-target-server-name": { type: "string" },
  });
  const deviceId = requireFlag(parsed, "id");
  validateDeviceId(deviceId); // it names the default key file
  const tokenFile = stringFlag(parsed, "token-file");
  const token = tokenFile
    ? (await Deno.readTextFile(tokenFile)).trim()
    : requireFlag(parsed, "token");
  const status = stringFlag(parsed, "status");
  const reporting = {
    ...(status === undefined ? {} : { status: parseStatusFlag(status) }),
    telemetryIntervalMs: parseTelemetryInterval(
      stringFlag(parsed, "telemetry-interval"),
    ),
    log: (line: string) => console.error(line),
  };
  const idempotency = parseIdempotencyFlags(parsed);
  const keyPath = stringFlag(parsed, "e2e-key") ?? defaultKeyPath(deviceId);
  const { key, created } = await loadOrCreateDeviceKeyFile(keyPath);
  const allowPlaintext = parsed.values["allow-plaintext"] === true;
  console.error(
    `device ${deviceId}: e2e key ${key.fingerprint} (${
      created ? "created" : "from"
    } ${keyPath})${allowPlaintext ? "; plaintext requests accepted too" : ""}`,
  );
  const trustedPath = stringFlag(parsed, "trusted-controllers");
  const trustedControllers = trustedPath === undefined
    ? undefined
    : await readTrustedControllers(trustedPath);
  if (trustedControllers !== undefined) {
    console.error(
      `device ${deviceId}: accepts requests from ${trustedControllers.size} trusted controller key(s) only (${trustedPath})`,
    );
  }
  const connector = wiring.deviceConnector(await clientTransport(parsed));
  const grpcTarget = await grpcTargetOf(parsed, wiring);
  if (grpcTarget) {
    console.error(
      `device ${deviceId}: gRPC calls go to ${grpcTarget.address}`,
    );
  }
  const agent = new DeviceAgent({
    connector,
    deviceId,
    token,
    metadata: keyValues(parsed, "metadata"),
    e2eKey: key,
    allowPlaintext,
    ...(trustedControllers ? { trustedControllers } : {}),
    idempotency,
    ...(grpcTarget ? { grpcTarget } : {}),
  });
  if (parsed.values.echo === true) {
    agent.handle("*", echoHandler);
  } else {
    agent.handle("*", (request) => {
      throw new RelayError(
        "METHOD_NOT_FOUND",
        `no handler for ${request.method} (start with --echo; --grpc-target serves gRPC calls, not relay requests)`,
      );
    });
  }
  const stopped = Promise.withResolvers<number>();
  let everConnected = false;
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
    everConnected ||= state.state === "connected";
    // A wrong credential on the first attempt is a setup error, not an outage.
    if (
      !everConnected && state.state === "disconnected" &&
      state.error?.code === "UNAUTHORIZED"
    ) {
      console.error(
        `error: UNAUTHORIZED: the relay refused the credential of ${deviceId}`,
      );
      stopped.resolve(1);
    }
  });
  const mqttListen = stringFlag(parsed, "mqtt-listen");
  const mqttListener = mqttListen === undefined
    ? undefined
    : startMqttListener({
      address: mqttListen,
      connector,
      agent,
      deviceId,
      token,
      log: (line) => console.error(line),
    });
  const stopReporting = startDeviceReporting(agent, reporting);
  agent.start();
  const stop = () => stopped.resolve(0);
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  const code = await stopped.promise;
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  stopReporting();
  await mqttListener?.close();
  await agent.close();
  return code;
}

/** --grpc-target and its TLS flags, checked before the agent starts. */
async function grpcTargetOf(
  parsed: ReturnType<typeof parseFlags>,
  wiring: CliWiring,
): Promise<GrpcTarget | undefined> {
  const address = stringFlag(parsed, "grpc-target");
  const caFile = stringFlag(parsed, "grpc-target-ca");
  const serverName = stringFlag(parsed, "grpc-target-server-name");
  if (address === undefined) {
    if (caFile !== undefined || serverName !== undefined) {
      throw new RelayError(
        "INVALID_REQUEST",
        "--grpc-target-ca and --grpc-target-server-name need --grpc-target",
      );
    }
    return undefined;
  }
  parseHostPort(address, { what: "--grpc-target" });
  return wiring.grpcTarget({
    address,
    ...(caFile === undefined ? {} : { caPem: await Deno.readTextFile(caFile) }),
    ...(serverName === undefined ? {} : { serverName }),
  });
}
