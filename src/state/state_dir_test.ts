import assert from "node:assert/strict";
import { buildConfig } from "../config/load_config.ts";
import { expiresInMs, issueServerCertificate } from "../tls/dev_pki.ts";
import { ensureStateDir, loadOrCreateTls } from "./state_dir.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

Deno.test("the dev server certificate is short-lived and re-issued from the same CA", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = buildConfig({ relay: { state_dir: dir } });
    const paths = await ensureStateDir(dir);
    const first = await loadOrCreateTls(config, paths);
    const validity = expiresInMs(first.certPem);
    assert.ok(
      validity > 12 * DAY_MS && validity <= 14 * DAY_MS,
      "WebTransport hash pinning allows 14 days",
    );

    // Unchanged while far from expiry.
    assert.equal((await loadOrCreateTls(config, paths)).certPem, first.certPem);

    // Close to expiry: a new certificate from the same CA.
    const expiring = await issueServerCertificate({
      caCertPem: first.caPem,
      caKeyPem: await Deno.readTextFile(paths.caKey),
    }, { hosts: ["localhost"], validityDays: 1 });
    await Deno.writeTextFile(paths.serverCert, expiring.serverCertPem);
    await Deno.writeTextFile(paths.serverKey, expiring.serverKeyPem);
    const renewed = await loadOrCreateTls(config, paths);
    assert.notEqual(renewed.certPem, expiring.serverCertPem);
    assert.ok(expiresInMs(renewed.certPem) > 12 * DAY_MS);
    assert.equal(
      renewed.caPem,
      first.caPem,
      "clients keep trusting the same CA",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
