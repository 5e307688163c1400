// The state directory (default .relay/): dev CA and server certificate,
// the HS256 secret when none is configured, the admin token and the store.
import { join } from "node:path";
import { hostname } from "node:os";
import type { RelayConfig } from "../config/config_schema.ts";
import { hostOf, isUnspecifiedHost } from "../config/host_port.ts";
import { assertStrongSecret } from "../auth/secret_strength.ts";
import { randomBase64Url } from "../store/relay_store.ts";
import {
  createDevCa,
  expiresInMs,
  issueServerCertificate,
} from "../tls/dev_pki.ts";
import { readConfigFile } from "../config/read_config_file.ts";

/** The short-lived dev server certificate is re-issued at start when this close to expiry. */
const RENEW_BEFORE_MS = 4 * 24 * 60 * 60 * 1000;

export interface StatePaths {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  jwtSecret: string;
  adminToken: string;
  database: string;
  /** Default audit log (relay.audit.path empty). */
  auditLog: string;
}

export function statePaths(dir: string): StatePaths {
  return {
    dir,
    caCert: join(dir, "ca.pem"),
    caKey: join(dir, "ca-key.pem"),
    serverCert: join(dir, "server.pem"),
    serverKey: join(dir, "server-key.pem"),
    jwtSecret: join(dir, "jwt.secret"),
    adminToken: join(dir, "admin.token"),
    database: join(dir, "relay.db"),
    auditLog: join(dir, "audit.log"),
  };
}

export interface TlsFiles {
  certPem: string;
  keyPem: string;
  /** CA that clients should trust (the dev CA, or the configured one). */
  caPem: string;
}

export async function ensureStateDir(dir: string): Promise<StatePaths> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  return statePaths(dir);
}

/** TLS material: the configured certificate, else the dev PKI (generated once). */
export async function loadOrCreateTls(
  config: RelayConfig,
  paths: StatePaths,
): Promise<TlsFiles> {
  const tls = config.relay.tls;
  if (tls.cert_path !== "") {
    const certPem = await readConfigFile(tls.cert_path, "relay.tls.cert_path");
    const keyPem = await readConfigFile(tls.key_path, "relay.tls.key_path");
    const caPem = tls.ca_path === ""
      ? certPem
      : await readConfigFile(tls.ca_path, "relay.tls.ca_path");
    return { certPem, keyPem, caPem };
  }
  if (!await exists(paths.caCert) || !await exists(paths.caKey)) {
    const ca = await createDevCa();
    await writeSecret(paths.caKey, ca.caKeyPem);
    await Deno.writeTextFile(paths.caCert, ca.caCertPem);
    await Deno.remove(paths.serverCert).catch(() => undefined); // issued by the old CA
  }
  if (
    !await exists(paths.serverCert) || !await exists(paths.serverKey) ||
    expiresInMs(await Deno.readTextFile(paths.serverCert)) < RENEW_BEFORE_MS
  ) {
    const server = await issueServerCertificate({
      caCertPem: await Deno.readTextFile(paths.caCert),
      caKeyPem: await Deno.readTextFile(paths.caKey),
    }, {
      hosts: devHosts([config.relay.address, config.relay.advertise_address]),
    });
    await writeSecret(paths.serverKey, server.serverKeyPem);
    await Deno.writeTextFile(paths.serverCert, server.serverCertPem);
  }
  return {
    certPem: await Deno.readTextFile(paths.serverCert),
    keyPem: await Deno.readTextFile(paths.serverKey),
    caPem: await Deno.readTextFile(paths.caCert),
  };
}

/** The configured HS256 secret, else one generated into the state directory. */
export async function loadOrCreateJwtSecret(
  config: RelayConfig,
  paths: StatePaths,
): Promise<string> {
  const configured = config.relay.auth.jwt.hs256_secret;
  const devMode = config.relay.dev_mode;
  if (configured !== "") {
    assertStrongSecret(configured, "relay.auth.jwt.hs256_secret", devMode);
    return configured;
  }
  if (await exists(paths.jwtSecret)) {
    const stored = (await Deno.readTextFile(paths.jwtSecret)).trim();
    assertStrongSecret(stored, paths.jwtSecret, devMode);
    return stored;
  }
  const secret = randomBase64Url(32);
  await writeSecret(paths.jwtSecret, secret + "\n");
  return secret;
}

export async function writeSecret(
  path: string,
  content: string,
): Promise<void> {
  await Deno.writeTextFile(path, content, { mode: 0o600 });
  await Deno.chmod(path, 0o600);
}

/** Loopback, this host's name, and the hosts of the bind and advertised addresses. */
function devHosts(addresses: string[]): string[] {
  const hosts = new Set(["localhost", "127.0.0.1", "::1", hostname()]);
  for (const address of addresses) {
    const host = hostOf(address);
    if (host !== "" && !isUnspecifiedHost(host)) hosts.add(host);
  }
  return [...hosts];
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
