// The three-terminal quickstart, run as real processes: relay, device agent
// with --echo, and the controller CLI; then SIGINT/SIGTERM shut them down.
import assert from "node:assert/strict";
import {
  MAIN,
  relayPorts,
  run,
  serveOnFreePorts,
  spawn,
  watch,
} from "./cli_processes.ts";

Deno.test("quickstart: serve, device --echo, ctl ls/call, token, graceful stop", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "relay-cli-" });
  const { relay, relayErr, relayOut } = serveOnFreePorts(stateDir);
  let device: Deno.ChildProcess | undefined;
  try {
    const { port, quicPort } = await relayPorts(relayErr);
    const common = [
      "--state-dir",
      stateDir,
      "--relay",
      `localhost:${port}`,
      "--quic-relay",
      `localhost:${quicPort}`,
    ];

    const registered = await run([
      "token",
      "device",
      "--id",
      "cli-dev",
      "--state-dir",
      stateDir,
    ]);
    assert.equal(registered.code, 0, registered.stderr);
    const credential = registered.stdout.trim();
    assert.match(credential, /^rdc_/);

    const keyFile = `${stateDir}/device/cli-dev.e2e.json`;
    const knownDevices = `${stateDir}/ctl/known_devices`;
    const ctl = (...args: string[]) =>
      run([
        "ctl",
        ...args,
        ...common,
        ...["--known-devices", knownDevices],
        ...["--e2e-key", `${stateDir}/ctl/controller.e2e.json`],
      ]);
    device = spawn([
      "device",
      "--id",
      "cli-dev",
      "--token",
      credential,
      "--echo",
      "--metadata",
      "region=eu",
      "--e2e-key",
      keyFile,
      ...common,
    ]);
    let deviceErr = watch(device.stderr);
    let deviceOut = watch(device.stdout);
    const [, fingerprint] = await deviceErr.waitFor(
      /cli-dev: e2e key (SHA256:[\w-]{43}) \(created .*cli-dev\.e2e\.json\)/,
    );
    assert.equal((await Deno.stat(keyFile)).mode! & 0o777, 0o600);
    assert.ok(
      !deviceErr.text.includes(JSON.parse(await Deno.readTextFile(keyFile)).d),
    );
    await deviceErr.waitFor(/cli-dev: connected via quic/); // QUIC first by default

    const ls = await ctl("ls");
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(
      ls.stdout,
      /cli-dev\s+ONLINE\s+quic\s+conn_\S+\s+\S+\s+(SHA256:\S+)\s+no\s+region=eu$/m,
    );
    assert.ok(ls.stdout.includes(fingerprint!), ls.stdout);

    // Encrypted by default; the first call trusts the key and says so.
    const call = await ctl("call", "cli-dev", "echo", "--data", "hello relay");
    assert.equal(call.code, 0, call.stderr);
    assert.equal(call.stdout, "hello relay");
    assert.match(
      call.stderr,
      new RegExp(`trusting device cli-dev on first use: key ${fingerprint}`),
    );
    assert.match(
      await Deno.readTextFile(knownDevices),
      new RegExp(`^cli-dev ${fingerprint}$`, "m"),
    );
    const again = await ctl("call", "cli-dev", "echo", "--data", "again");
    assert.equal(again.stdout, "again");
    assert.doesNotMatch(again.stderr, /trusting/);
    const pinned = await ctl("call", "cli-dev", "echo", "--pin", fingerprint!);
    assert.equal(pinned.code, 0, pinned.stderr);
    const otherKey = `SHA256:${"A".repeat(43)}`;
    const wrongPin = await ctl("call", "cli-dev", "echo", "--pin", otherKey);
    assert.equal(wrongPin.code, 1);
    assert.match(
      wrongPin.stderr,
      /error: UNAUTHORIZED: e2e: device cli-dev offers key \S+ but SHA256:A+ is pinned/,
    );
    const plaintext = await ctl("call", "cli-dev", "echo", "--plaintext");
    assert.equal(plaintext.code, 1);
    assert.match(
      plaintext.stderr,
      /error: INVALID_REQUEST: e2e: request rejected: not encrypted/,
    );

    const viewer = await run([
      "token",
      "controller",
      "--id",
      "v1",
      "--role",
      "viewer",
      "--project",
      "default",
      "--state-dir",
      stateDir,
    ]);
    assert.equal(viewer.code, 0, viewer.stderr);
    const denied = await ctl(
      "call",
      "cli-dev",
      "echo",
      "--data",
      "x",
      "--token",
      viewer.stdout.trim(),
    );
    assert.equal(denied.code, 1);
    assert.match(
      denied.stderr,
      /error: PERMISSION_DENIED: role viewer may not send requests/,
    );

    const missing = await ctl("call", "ghost", "echo");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /error: DEVICE_NOT_FOUND/);

    // The device comes back with another key: the known key no longer matches.
    device.kill("SIGTERM");
    assert.equal((await device.status).code, 0);
    await Promise.all([deviceErr.done, deviceOut.done]);
    device = spawn([
      "device",
      "--id",
      "cli-dev",
      "--token",
      credential,
      "--echo",
      "--allow-plaintext",
      "--e2e-key",
      `${stateDir}/device/replaced.e2e.json`,
      "--transport",
      "h2",
      ...common,
    ]);
    deviceErr = watch(device.stderr);
    deviceOut = watch(device.stdout);
    await deviceErr.waitFor(/plaintext requests accepted too/);
    await deviceErr.waitFor(/cli-dev: connected via h2/);
    const swapped = await ctl("call", "cli-dev", "echo", "--data", "x");
    assert.equal(swapped.code, 1);
    assert.match(
      swapped.stderr,
      new RegExp(
        `error: UNAUTHORIZED: e2e: device cli-dev offers key \\S+ but ${fingerprint} was trusted on first use.*remove cli-dev from ${knownDevices}`,
      ),
    );
    const opted = await ctl(
      "call",
      "cli-dev",
      "echo",
      "--data",
      "open",
      "--plaintext",
    );
    assert.equal(opted.stdout, "open", opted.stderr);

    device.kill("SIGTERM");
    assert.equal((await device.status).code, 0);
    await Promise.all([deviceErr.done, deviceOut.done]);
    device = undefined;

    relay.kill("SIGINT");
    assert.equal((await relay.status).code, 0);
    await Promise.all([relayErr.done, relayOut.done]);
    assert.match(relayErr.text, /device offline.*"reason":"graceful"/);
    assert.match(relayErr.text, /relay stopped/);
  } finally {
    device?.kill("SIGKILL");
    try {
      relay.kill("SIGKILL");
    } catch {
      // already exited
    }
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("a bad config value fails at start naming the key", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, "serve", "--address", "127.0.0.1:0"],
    env: { NO_COLOR: "1", RELAY__HEARTBEAT_INTERVAL_SECONDS: "soon" },
  }).output();
  assert.equal(output.code, 1);
  assert.match(
    new TextDecoder().decode(output.stderr),
    /config key relay\.heartbeat_interval_seconds: .*expected number/,
  );
});

Deno.test("--help and -h print each subcommand's usage and exit 0", async () => {
  const cases = ["serve", "device", "ctl", "token"].flatMap((command) =>
    ["--help", "-h"].map((flag) => ({ command, flag }))
  );
  const results = await Promise.all(
    cases.map(({ command, flag }) => run([command, flag])),
  );
  for (const [index, { command, flag }] of cases.entries()) {
    const { code, stdout, stderr } = results[index]!;
    assert.equal(code, 0, `${command} ${flag}: exit ${code}: ${stderr}`);
    assert.match(stdout, new RegExp(`^usage: relay ${command} `));
  }
  // Help wins over other flags, even ones that would be an error alone.
  const ctlCall = await run(["ctl", "call", "--bogus", "-h"]);
  assert.equal(ctlCall.code, 0, ctlCall.stderr);
  assert.match(ctlCall.stdout, /^usage: relay ctl /);
});

Deno.test("relay drain: admins only; --wait returns once the relay has stopped, and the relay exits 0", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "relay-cli-drain-" });
  const { relay, relayErr, relayOut } = serveOnFreePorts(stateDir);
  try {
    const [, port] = await relayErr.waitFor(
      /listening on 127\.0\.0\.1:(\d+) \(TLS\)/,
    );
    const common = ["--state-dir", stateDir, "--relay", `127.0.0.1:${port}`];
    const operator = await run([
      "token",
      "controller",
      "--id",
      "ops",
      "--role",
      "operator",
      "--state-dir",
      stateDir,
    ]);
    assert.equal(operator.code, 0, operator.stderr);
    const refused = await run([
      "drain",
      ...common,
      "--token",
      operator.stdout.trim(),
    ]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /PERMISSION_DENIED: only admins may drain/);

    const drained = await run(["drain", ...common, "--wait"]);
    assert.equal(drained.code, 0, drained.stderr);
    assert.match(drained.stdout, /draining: 0 devices told to move/);
    assert.match(drained.stdout, /relay stopped/);
    assert.equal((await relay.status).code, 0);
    await relayErr.done;
    assert.match(relayErr.text, /drain requested/);
    assert.match(relayErr.text, /relay stopped/);
  } finally {
    try {
      relay.kill("SIGKILL");
    } catch {
      // Exited already.
    }
    await relay.status;
    await relayOut.done;
    await Deno.remove(stateDir, { recursive: true });
  }
});
