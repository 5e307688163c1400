// `relay device --trusted-controllers` and `relay ctl key` as processes: the
// device serves the controller whose key fingerprint its file lists and
// refuses one with another key, whatever the relay allows.
import assert from "node:assert/strict";
import {
  relayPorts,
  run,
  serveOnFreePorts,
  spawn,
  watch,
} from "./cli_processes.ts";

Deno.test("relay device --trusted-controllers serves the listed controller key only", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "relay-trusted-" });
  const children: Deno.ChildProcess[] = [];
  try {
    const { relay, relayErr } = serveOnFreePorts(stateDir);
    children.push(relay);
    const { port, quicPort } = await relayPorts(relayErr);
    const common = [
      ...["--state-dir", stateDir, "--relay", `localhost:${port}`],
      ...["--quic-relay", `localhost:${quicPort}`],
    ];
    const trustedKey = `${stateDir}/ops.e2e.json`;
    const key = await run(["ctl", "key", "--e2e-key", trustedKey]);
    assert.equal(key.code, 0, key.stderr);
    const fingerprint = key.stdout.trim();
    assert.match(fingerprint, /^SHA256:[\w-]{43}$/);
    assert.match(key.stderr, /e2e: created controller key SHA256:/);
    const again = await run(["ctl", "key", "--e2e-key", trustedKey]);
    assert.equal(again.stdout.trim(), fingerprint, "the key file is kept");

    await Deno.writeTextFile(
      `${stateDir}/trusted_controllers`,
      `# the operators' controller\n* ${fingerprint}\n`,
    );
    const token = await run(
      ["token", "device", "--id", "guarded", "--state-dir", stateDir],
    );
    const device = spawn([
      "device",
      ...["--id", "guarded", "--token", token.stdout.trim(), "--echo"],
      ...["--e2e-key", `${stateDir}/guarded.e2e.json`],
      ...["--trusted-controllers", `${stateDir}/trusted_controllers`],
      ...common,
    ]);
    children.push(device);
    const deviceErr = watch(device.stderr);
    watch(device.stdout);
    await deviceErr.waitFor(/accepts requests from 1 trusted controller key/);
    await deviceErr.waitFor(/guarded: connected via quic/);

    const call = (keyFile: string) =>
      run([
        "ctl",
        "call",
        "guarded",
        "echo",
        ...["--data", "open sesame", "--e2e-key", keyFile],
        ...["--known-devices", `${stateDir}/known_devices`],
        ...common,
      ]);
    const trusted = await call(trustedKey);
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.equal(trusted.stdout, "open sesame");
    const stranger = await call(`${stateDir}/stranger.e2e.json`);
    assert.equal(stranger.code, 1);
    assert.match(
      stranger.stderr,
      /error: PERMISSION_DENIED: e2e: request rejected: controller \S+ sealed it with key SHA256:\S+, which this device does not trust/,
    );
  } finally {
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch { /* it ended */ }
      await child.status;
    }
    await Deno.remove(stateDir, { recursive: true });
  }
});
