import assert from "node:assert/strict";
import { parseHostPort } from "../src/config/host_port.ts";
import { certificateSha256 } from "../src/tls/dev_pki.ts";
import { decode, encode, startTestRelay } from "./harness.ts";

/** A WebTransport client in its own process, so it can vanish without a goodbye. */
const CLIENT = `
const [url, hash] = Deno.args;
const session = new WebTransport(url, {
  serverCertificateHashes: [{ algorithm: "sha-256", value: Uint8Array.from(atob(hash), (c) => c.charCodeAt(0)) }],
});
await session.ready;
console.log("ready");
await new Promise(() => {});
`;

Deno.test("a WebTransport peer that vanishes does not disturb the relay", async () => {
  // A short idle timeout makes the relay give up on the silent session quickly.
  const t = await startTestRelay({
    config: { "relay.quic.idle_timeout_seconds": 0.3 },
  });
  try {
    await t.device("wt-1");
    const { port } = parseHostPort(t.relay.quicAddress);
    const hash = await certificateSha256(
      await Deno.readTextFile(t.relay.paths.serverCert),
    );
    const client = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        "--unstable-net",
        CLIENT,
        `https://127.0.0.1:${port}/`,
        btoa(String.fromCharCode(...hash)),
      ],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = client.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    assert.equal((await reader.read()).value?.trim(), "ready");
    client.kill("SIGKILL");
    await client.status;
    await reader.cancel();
    // Past the relay's idle timeout for that session: it must still serve.
    await new Promise((resolve) => setTimeout(resolve, 800));
    const reply = await t.controller().call(
      "wt-1",
      "echo",
      encode("still serving"),
    );
    assert.equal(decode(reply), "still serving");
  } finally {
    await t.close();
  }
});
