// `relay token`: mint controller JWTs and register devices (printing their
// credential once; the store keeps only its hash).
import { decodeJwt } from "jose";
import { isRole, mintControllerToken } from "../auth/controller_auth.ts";
import { loadConfig } from "../config/load_config.ts";
import { RelayError } from "../errors/relay_error.ts";
import { ensureStateDir, loadOrCreateJwtSecret } from "../state/state_dir.ts";
import { openFleetStore } from "../cluster/open_fleet_store.ts";
import {
  listFlag,
  parseDuration,
  parseFlags,
  requireFlag,
  stringFlag,
} from "./cli_args.ts";

export const TOKEN_USAGE = `relay token <controller|device> [options]
  controller --id ID [--role admin|operator|viewer] [--project P]... [--ttl 24h]
  device --id DEVICE_ID [--project P]     registers the device, prints its credential
common:
  --config FILE          relay config (for the JWT secret, issuer, audience, state dir)
  --state-dir DIR        state directory (default .relay)`;

export async function tokenCommand(args: string[]): Promise<number> {
  const [kind, ...rest] = args;
  const parsed = parseFlags(rest, {
    config: { type: "string" },
    "state-dir": { type: "string" },
    id: { type: "string" },
    role: { type: "string" },
    project: { type: "string", multiple: true },
    ttl: { type: "string" },
  });
  const configPath = stringFlag(parsed, "config");
  const config = await loadConfig({
    ...(configPath ? { path: configPath } : {}),
    overrides: { "relay.state_dir": stringFlag(parsed, "state-dir") },
  });
  const paths = await ensureStateDir(config.relay.state_dir);
  const id = requireFlag(parsed, "id");

  if (kind === "controller") {
    const role = stringFlag(parsed, "role") ?? "operator";
    if (!isRole(role)) {
      throw new RelayError(
        "INVALID_REQUEST",
        `--role must be admin, operator or viewer`,
      );
    }
    const jwt = config.relay.auth.jwt;
    const token = await mintControllerToken({
      secret: await loadOrCreateJwtSecret(config, paths),
      issuer: jwt.issuer,
      audience: jwt.audience,
      clockSkewSeconds: jwt.clock_skew_seconds,
    }, {
      controllerId: id,
      role,
      projects: listFlag(parsed, "project"),
      ttlSeconds: Math.round(
        parseDuration(stringFlag(parsed, "ttl") ?? "24h", "ttl") / 1000,
      ),
    });
    console.log(token);
    // stdout stays the bare token for scripts; how to revoke it goes to stderr.
    const { jti } = decodeJwt(token);
    console.error(`revoke with: relay ctl revoke --target jti:${jti}`);
    return 0;
  }
  if (kind === "device") {
    const projects = listFlag(parsed, "project");
    if (projects.length > 1) {
      throw new RelayError(
        "INVALID_REQUEST",
        "a device belongs to one --project",
      );
    }
    // In a cluster, the device is registered for every relay of it.
    const fleet = await openFleetStore(config, paths.database);
    try {
      console.log(
        await fleet.store.registerDevice(id, projects[0] ?? "default"),
      );
    } finally {
      await fleet.close();
    }
    return 0;
  }
  throw new RelayError(
    "INVALID_REQUEST",
    `unknown token kind "${kind ?? ""}"\n${TOKEN_USAGE}`,
  );
}
