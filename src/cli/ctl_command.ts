// `relay ctl`: the controller CLI (ls, call, grpc, call-many, revoke, watch,
// drain; `relay drain` is the same as `relay ctl drain`).
import { join } from "node:path";
import {
  type DeviceKeyPair,
  E2E_METADATA_PREFIX,
  loadOrCreateDeviceKeyFile,
  publicKeyFromMetadata,
} from "../e2e/device_key.ts";
import { fingerprint } from "../e2e/hpke_suite.ts";
import { KnownDevicesFile } from "../e2e/known_devices_file.ts";
import type { ControllerE2eOptions } from "../e2e/controller_e2e.ts";
import { RelayError } from "../errors/relay_error.ts";
import { ControllerClient } from "../sdk/controller_client.ts";
import type { DeviceInfo } from "../sdk/connector.ts";
import {
  CLIENT_OPTIONS,
  CLIENT_USAGE,
  clientTransport,
  defaultStateDir,
  keyValues,
  type Parsed,
  parseDuration,
  parseFlags,
  stringFlag,
} from "./cli_args.ts";
import { watch, WATCH_OPTIONS, WATCH_USAGE } from "./ctl_watch.ts";
import type { CliWiring } from "./wiring.ts";
import {
  callMany,
  CTL_GRPC_OPTIONS,
  CTL_GRPC_USAGE,
  grpcCall,
  requestPayload,
} from "./ctl_grpc.ts";

const DEFAULT_KNOWN_DEVICES = join(".relay-ctl", "known_devices");
const DEFAULT_CONTROLLER_KEY = join(".relay-ctl", "controller.e2e.json");

export const DRAIN_USAGE =
  `relay drain [--timeout 30s] [--wait] [--relay HOST:PORT] [--token ADMIN_JWT]
  the relay tells its devices to move to other relays of the cluster, stops
  taking new devices and controller streams, waits for them to move (at most
  --timeout, default relay.cluster.drain_timeout_seconds), then stops.
  --wait: return only once the relay has stopped answering`;

export const CTL_USAGE =
  `relay ctl <ls|call|grpc|call-many|revoke|watch|drain|key> [options]
  ls [--region R] [--label KEY=VALUE]... [--json]
  call DEVICE METHOD [--data TEXT | --data-file FILE] [--timeout 30s]
       [--pin SHA256:...] [--known-devices FILE] [--no-tofu] [--plaintext]
       [--e2e-key FILE]
  key [--e2e-key FILE]   print this controller's key fingerprint (for a device's
                         --trusted-controllers file), creating the key if needed
${CTL_GRPC_USAGE}
  revoke --target TOKEN|SHA256|jti:ID [--device] [--reason TEXT]
${WATCH_USAGE}
  drain [--timeout 30s] [--wait]   (see relay drain)
call, end-to-end encryption (on by default):
  --pin FINGERPRINT      the device's key must have this fingerprint (see relay device / ctl ls)
  --known-devices FILE   keys trusted so far, per device (default ${DEFAULT_KNOWN_DEVICES})
  --no-tofu              refuse a device that is neither pinned nor in the known devices
  --plaintext            send the payload unencrypted (readable by the relay)
  --e2e-key FILE         this controller's key pair, which devices may require (JWK, mode
                         0600; created when missing; default ${DEFAULT_CONTROLLER_KEY})
common:
  --token JWT            controller token (default: env RELAY_TOKEN, else <state-dir>/admin.token)
${CLIENT_USAGE}`;

export async function ctlCommand(
  args: string[],
  wiring: CliWiring,
): Promise<number> {
  const [action, ...rest] = args;
  if (action === "watch") {
    return await watch(
      parseFlags(rest, { ...WATCH_OPTIONS, json: { type: "boolean" } }),
    );
  }
  const parsed = parseFlags(rest, {
    ...CLIENT_OPTIONS,
    token: { type: "string" },
    region: { type: "string" },
    label: { type: "string", multiple: true },
    json: { type: "boolean" },
    data: { type: "string" },
    "data-file": { type: "string" },
    timeout: { type: "string" },
    target: { type: "string" },
    device: { type: "boolean" },
    reason: { type: "string" },
    pin: { type: "string" },
    "known-devices": { type: "string" },
    "no-tofu": { type: "boolean" },
    plaintext: { type: "boolean" },
    wait: { type: "boolean" },
    "e2e-key": { type: "string" },
    ...CTL_GRPC_OPTIONS,
  });
  if (action === "key") return await printControllerKey(parsed);
  const client = new ControllerClient({
    connector: wiring.controllerConnector(await clientTransport(parsed)),
    token: await controllerToken(parsed),
    e2e: action === "call" ? await e2eOptions(parsed) : false,
  });
  try {
    switch (action) {
      case "ls":
        return await list(client, parsed);
      case "call":
        return await call(client, parsed);
      case "grpc":
        return await grpcCall(client, parsed);
      case "call-many":
        return await callMany(client, parsed);
      case "revoke":
        return await revoke(client, parsed);
      case "drain":
        return await drain(client, parsed);
      default:
        throw new RelayError(
          "INVALID_REQUEST",
          `unknown ctl action "${action ?? ""}"\n${CTL_USAGE}`,
        );
    }
  } finally {
    await client.close();
  }
}

/** This controller's key file: loaded, or created and announced. */
async function controllerKey(parsed: Parsed): Promise<DeviceKeyPair> {
  const path = stringFlag(parsed, "e2e-key") ?? DEFAULT_CONTROLLER_KEY;
  const { key, created } = await loadOrCreateDeviceKeyFile(path);
  if (created) {
    console.error(`e2e: created controller key ${key.fingerprint} in ${path}`);
  }
  return key;
}

async function printControllerKey(parsed: Parsed): Promise<number> {
  console.log((await controllerKey(parsed)).fingerprint);
  return 0;
}

/** Pins, the known-devices file (TOFU, like SSH's known_hosts) and this controller's key, for `call`. */
async function e2eOptions(
  parsed: Parsed,
): Promise<ControllerE2eOptions | false> {
  if (parsed.values.plaintext === true) return false;
  const path = stringFlag(parsed, "known-devices") ?? DEFAULT_KNOWN_DEVICES;
  const deviceId = parsed.positionals[0];
  const pin = stringFlag(parsed, "pin");
  return {
    ...(pin && deviceId ? { pins: { [deviceId]: pin } } : {}),
    knownKeys: new KnownDevicesFile(path),
    key: await controllerKey(parsed),
    trustOnFirstUse: parsed.values["no-tofu"] !== true,
    onFirstUse: (id, key) =>
      console.error(
        `e2e: trusting device ${id} on first use: key ${key} (recorded in ${path}; compare it with what the device printed)`,
      ),
  };
}

async function controllerToken(parsed: Parsed): Promise<string> {
  const explicit = stringFlag(parsed, "token") ?? Deno.env.get("RELAY_TOKEN");
  if (explicit) return explicit;
  const path = join(defaultStateDir(parsed), "admin.token");
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch {
    throw new RelayError(
      "INVALID_REQUEST",
      `no --token given and cannot read ${path}`,
    );
  }
}

async function list(client: ControllerClient, parsed: Parsed): Promise<number> {
  const region = stringFlag(parsed, "region");
  const devices = await client.listDevices({
    ...(region ? { region } : {}),
    labels: keyValues(parsed, "label"),
  });
  const fingerprints = await Promise.all(devices.map(keyFingerprint));
  if (parsed.values.json === true) {
    const withKeys = devices.map((device, index) => ({
      ...device,
      e2e_fingerprint: fingerprints[index],
    }));
    console.log(JSON.stringify(withKeys, null, 2));
    return 0;
  }
  console.log(formatTable(devices, fingerprints));
  return 0;
}

/** The fingerprint of the device's advertised E2E key, "-" for none. */
async function keyFingerprint(device: DeviceInfo): Promise<string> {
  try {
    const key = publicKeyFromMetadata(device.metadata);
    return key === undefined ? "-" : await fingerprint(key);
  } catch {
    return "invalid";
  }
}

function formatTable(devices: DeviceInfo[], fingerprints: string[]): string {
  const rows = [[
    "DEVICE",
    "STATE",
    "TRANSPORT",
    "CONNECTION",
    "LAST SEEN",
    "E2E KEY",
    "GRPC",
    "METADATA",
  ]];
  for (const [index, device] of devices.entries()) {
    rows.push([
      device.device_id,
      device.state,
      device.transport,
      device.connection_id,
      new Date(device.last_seen).toISOString(),
      fingerprints[index]!,
      // Takes transparent gRPC calls (relay device --grpc-target).
      device.grpc_target ? "yes" : "no",
      Object.entries(device.metadata)
        .filter(([key]) => !key.startsWith(E2E_METADATA_PREFIX))
        .map(([k, v]) => `${k}=${v}`).join(","),
    ]);
  }
  const widths = rows[0]!.map((_, column) =>
    Math.max(...rows.map((row) => row[column]!.length))
  );
  return rows.map((row) =>
    row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()
  )
    .join("\n");
}

async function call(client: ControllerClient, parsed: Parsed): Promise<number> {
  const [deviceId, method] = parsed.positionals;
  if (!deviceId || !method) {
    throw new RelayError(
      "INVALID_REQUEST",
      "usage: ctl call DEVICE METHOD --data TEXT",
    );
  }
  const payload = await requestPayload(parsed);
  const timeout = stringFlag(parsed, "timeout");
  const response = await client.call(deviceId, method, payload, {
    ...(timeout ? { timeoutMs: parseDuration(timeout, "timeout") } : {}),
  });
  await Deno.stdout.write(response);
  if (Deno.stdout.isTerminal()) {
    await Deno.stdout.write(new TextEncoder().encode("\n"));
  }
  return 0;
}

async function revoke(
  client: ControllerClient,
  parsed: Parsed,
): Promise<number> {
  const target = stringFlag(parsed, "target");
  if (!target) {
    throw new RelayError(
      "INVALID_REQUEST",
      "--target TOKEN_OR_SHA256 is required",
    );
  }
  const reason = stringFlag(parsed, "reason");
  const result = await client.revokeToken({
    token: target,
    targetType: parsed.values.device === true ? "DEVICE" : "CONTROLLER",
    ...(reason ? { reason } : {}),
  });
  console.log(
    `revoked=${result.revoked} closed_streams=${result.closedStreams}`,
  );
  return 0;
}

/** How often `drain --wait` checks whether the relay still answers. */
const DRAIN_WAIT_POLL_MS = 250;

async function drain(
  client: ControllerClient,
  parsed: Parsed,
): Promise<number> {
  const timeout = stringFlag(parsed, "timeout");
  const { devices } = await client.drainRelay(
    timeout
      ? { timeoutSeconds: Math.ceil(parseDuration(timeout, "timeout") / 1000) }
      : {},
  );
  console.log(`draining: ${devices} devices told to move`);
  if (parsed.values.wait !== true) return 0;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, DRAIN_WAIT_POLL_MS));
    try {
      await client.listDevices();
    } catch (error) {
      if (RelayError.from(error).code !== "UNAVAILABLE") throw error;
      console.log("relay stopped");
      return 0;
    }
  }
}
