// TLS and credentials for the relay's NATS connection (relay.cluster.tls,
// username/password, token): a real nats-server that requires them, a relay
// that connects with them and one that fails at start, saying why (NATS
// authorization; an untrusted certificate) and never showing the secret.
import assert from "node:assert/strict";
import { ClusterState } from "../../src/cluster/cluster_state.ts";
import { natsSecurity } from "../../src/cluster/nats_options.ts";
import { buildConfig } from "../../src/config/load_config.ts";
import { RelayError } from "../../src/errors/relay_error.ts";
import { createDevCa, issueServerCertificate } from "../../src/tls/dev_pki.ts";
import { startTestRelay } from "../harness.ts";
import { NATS_SERVER, SystemTools } from "../system_tools.ts";
import { NatsCluster } from "./nats_cluster.ts";

const tools = await SystemTools.check(NATS_SERVER);
const PASSWORD = "pw-" + crypto.randomUUID();
const TOKEN = "tok-" + crypto.randomUUID();

function clusterConfig(url: string, extra: Record<string, unknown> = {}) {
  return {
    "relay.cluster.nats_url": url,
    "relay.cluster.replicas": 1,
    ...extra,
  };
}

/** Starts a relay as startTestRelay does and stops it again. */
async function relayStarts(config: Record<string, unknown>): Promise<void> {
  const relay = await startTestRelay({ config });
  await relay.close();
}

tools.test("NATS credentials: a relay with the username and password connects; without them it fails at start naming NATS authorization", async () => {
  const nats = await NatsCluster.start(tools.path("nats-server"), 1, [
    `authorization { user: relay, password: "${PASSWORD}" }`,
  ]);
  try {
    const url = nats.urls[0]!;
    await relayStarts(clusterConfig(url, {
      "relay.cluster.username": "relay",
      "relay.cluster.password": PASSWORD,
    }));
    for (
      const credentials of [{}, {
        "relay.cluster.username": "relay",
        "relay.cluster.password": "wrong-" + PASSWORD,
      }]
    ) {
      await assert.rejects(
        relayStarts(clusterConfig(url, credentials)),
        (error) => {
          assert.ok(error instanceof RelayError, String(error));
          assert.equal(error.code, "UNAUTHORIZED");
          assert.match(error.message, /NATS authorization failed/);
          assert.match(error.message, /relay\.cluster\.creds_path/);
          assert.ok(!error.message.includes(PASSWORD), "password shown");
          return true;
        },
      );
    }
  } finally {
    await nats.close();
  }
});

tools.test("NATS credentials: a token", async () => {
  const nats = await NatsCluster.start(tools.path("nats-server"), 1, [
    `authorization { token: "${TOKEN}" }`,
  ]);
  try {
    const open = async (token: string) => {
      const config = buildConfig(
        {},
        {},
        clusterConfig(nats.urls[0]!, {
          "relay.cluster.token": token,
        }),
      );
      const state = await ClusterState.open({
        servers: nats.urls,
        replicas: 1,
        security: await natsSecurity(config.relay.cluster),
      });
      await state.close();
    };
    await open(TOKEN);
    await assert.rejects(
      open("not-" + TOKEN),
      (error) =>
        error instanceof RelayError && error.code === "UNAUTHORIZED" &&
        !error.message.includes(TOKEN),
    );
  } finally {
    await nats.close();
  }
});

tools.test("NATS TLS: a relay trusting the servers' CA connects; one that does not fails at start", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nats-tls-" });
  const ca = await createDevCa();
  const server = await issueServerCertificate(ca, {
    hosts: ["127.0.0.1", "localhost"],
  });
  await Deno.writeTextFile(`${dir}/ca.pem`, ca.caCertPem);
  await Deno.writeTextFile(`${dir}/server.pem`, server.serverCertPem);
  await Deno.writeTextFile(`${dir}/server-key.pem`, server.serverKeyPem);
  const nats = await NatsCluster.start(tools.path("nats-server"), 1, [
    `tls { cert_file: "${dir}/server.pem", key_file: "${dir}/server-key.pem" }`,
  ]);
  try {
    const url = nats.urls[0]!;
    await relayStarts(
      clusterConfig(url, { "relay.cluster.tls.ca_path": `${dir}/ca.pem` }),
    );
    await assert.rejects(
      relayStarts(clusterConfig(url)),
      (error) => error instanceof RelayError && error.code === "UNAVAILABLE",
    );
    // A missing file names its key.
    await assert.rejects(
      relayStarts(
        clusterConfig(url, { "relay.cluster.tls.ca_path": `${dir}/none.pem` }),
      ),
      /config key relay\.cluster\.tls\.ca_path: cannot read/,
    );
  } finally {
    await nats.close();
    await Deno.remove(dir, { recursive: true });
  }
});
