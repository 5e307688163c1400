// Shared flag handling for the CLI subcommands.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { join } from "node:path";
import { RelayError } from "../errors/relay_error.ts";
import type { ClientTransportOptions, TransportChoice } from "./wiring.ts";

export type Options = NonNullable<ParseArgsConfig["options"]>;

export interface Parsed {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

export function parseFlags(args: string[], options: Options): Parsed {
  try {
    return parseArgs({
      args,
      options,
      allowPositionals: true,
      strict: true,
    }) as Parsed;
  } catch (error) {
    throw new RelayError("INVALID_REQUEST", (error as Error).message);
  }
}

export function stringFlag(parsed: Parsed, name: string): string | undefined {
  const value = parsed.values[name];
  return typeof value === "string" ? value : undefined;
}

export function listFlag(parsed: Parsed, name: string): string[] {
  const value = parsed.values[name];
  return Array.isArray(value)
    ? value.map(String)
    : typeof value === "string"
    ? [value]
    : [];
}

export function requireFlag(parsed: Parsed, name: string): string {
  const value = stringFlag(parsed, name);
  if (value === undefined || value === "") {
    throw new RelayError("INVALID_REQUEST", `--${name} is required`);
  }
  return value;
}

/** Parses repeated key=value flags (metadata, labels). */
export function keyValues(
  parsed: Parsed,
  name: string,
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const pair of listFlag(parsed, name)) {
    const index = pair.indexOf("=");
    if (index <= 0) {
      throw new RelayError(
        "INVALID_REQUEST",
        `--${name} expects key=value, got "${pair}"`,
      );
    }
    result[pair.slice(0, index)] = pair.slice(index + 1);
  }
  return result;
}

export function defaultStateDir(parsed: Parsed): string {
  return stringFlag(parsed, "state-dir") ?? Deno.env.get("RELAY_STATE_DIR") ??
    ".relay";
}

/** Flags every client command (device, ctl) shares. */
export const CLIENT_OPTIONS: Options = {
  relay: { type: "string" },
  ca: { type: "string" },
  "state-dir": { type: "string" },
  "insecure-plaintext": { type: "boolean" },
  "server-name": { type: "string" },
  transport: { type: "string" },
  "quic-relay": { type: "string" },
};

/** Help lines for CLIENT_OPTIONS, shared by the device and ctl usage texts. */
export const CLIENT_USAGE =
  `  --relay HOST:PORT      relay gRPC address (default localhost:50051); a device may list
                         several relays of a cluster, comma-separated: it stays with one
                         that works and moves on when it cannot reach it
  --ca FILE              CA of the relay certificate (default <state-dir>/ca.pem)
  --server-name NAME     TLS name to verify when it differs from the --relay host
  --transport T          auto (QUIC first, HTTP/2 fallback; devices' default), quic, h2
                         (controllers' default)
  --quic-relay HOST:PORT relay QUIC address (default: the --relay host, port 50052); with
                         several --relay addresses, one per relay in the same order
  --state-dir DIR        where the default CA and admin token are read (default .relay,
                         env RELAY_STATE_DIR)
  --insecure-plaintext   connect without TLS`;

export async function clientTransport(
  parsed: Parsed,
): Promise<ClientTransportOptions> {
  const address = stringFlag(parsed, "relay") ?? "localhost:50051";
  const transport = stringFlag(parsed, "transport");
  if (transport !== undefined && !["auto", "quic", "h2"].includes(transport)) {
    throw new RelayError(
      "INVALID_REQUEST",
      `--transport must be auto, quic or h2, got "${transport}"`,
    );
  }
  const quicAddress = stringFlag(parsed, "quic-relay");
  const serverName = stringFlag(parsed, "server-name");
  const common: ClientTransportOptions = {
    address,
    ...(transport ? { transport: transport as TransportChoice } : {}),
    ...(quicAddress ? { quicAddress } : {}),
    ...(serverName ? { serverName } : {}),
  };
  if (parsed.values["insecure-plaintext"] === true) {
    if (transport === "quic") {
      throw new RelayError("INVALID_REQUEST", "QUIC always uses TLS");
    }
    return { ...common, insecure: true, transport: "h2" };
  }
  const caPath = stringFlag(parsed, "ca") ??
    join(defaultStateDir(parsed), "ca.pem");
  let caPem: string;
  try {
    caPem = await Deno.readTextFile(caPath);
  } catch {
    throw new RelayError(
      "INVALID_REQUEST",
      `cannot read CA file ${caPath} (pass --ca, or --insecure-plaintext for a plaintext relay)`,
    );
  }
  return { ...common, caPem };
}

export function parseDuration(value: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value);
  if (!match) {
    throw new RelayError(
      "INVALID_REQUEST",
      `--${flag}: expected a duration like 30s, 5m, 24h`,
    );
  }
  const unit = {
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
    d: 86_400_000,
  }[match[2] ?? "s"]!;
  return Number(match[1]) * unit;
}
