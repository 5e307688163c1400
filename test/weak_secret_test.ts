// The relay refuses to start with a guessable HS256 secret unless dev mode
// says the operator knows; the generated secret always passes.
import assert from "node:assert/strict";
import { buildConfig } from "../src/config/load_config.ts";
import { Logger } from "../src/observability/logger.ts";
import { startRelay } from "../mod.ts";

async function start(overrides: Record<string, unknown>) {
  const stateDir = await Deno.makeTempDir({ prefix: "relay-weak-" });
  const config = buildConfig({}, {}, {
    "relay.address": "127.0.0.1:0",
    "relay.quic.enabled": false,
    "relay.state_dir": stateDir,
    "observability.health.enabled": false,
    ...overrides,
  });
  try {
    const relay = await startRelay(config, {
      logger: new Logger({ level: "error", write: () => {} }),
    });
    await relay.shutdown();
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
}

Deno.test("a weak configured HS256 secret stops the relay at start, naming the key", async () => {
  await assert.rejects(
    start({
      "relay.auth.jwt.hs256_secret": "changeme-changeme-changeme-123456",
    }),
    /relay\.auth\.jwt\.hs256_secret: weak HS256 secret \(contains the placeholder word "changeme"\)/,
  );
});

Deno.test("dev mode accepts a weak secret; the generated secret needs no dev mode", async () => {
  await start({
    "relay.auth.jwt.hs256_secret": "dev",
    "relay.dev_mode": true,
  });
  await start({});
});
